// The dashboard's hardening in headless Chromium against a real server (buildApp on 127.0.0.1,
// SQLite in a temp dir, bundle built with the real build script): experiments named "." and
// ".." open, a malformed %-escape in the hash does not leave the view on "Loading…", and with
// SECURITY_PROFILE=public the dashboard reads with the token given once as #read_token=.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildApp } from '../../src/app.ts';
import { CI } from '../helpers/env.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';
import { type Browser, launchBrowser } from './harness/browser.ts';
import { CHROMIUM } from './harness/tools.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const chromiumSkip = fs.existsSync(CHROMIUM)
  ? false
  : `dashboard browser tests skipped: install Debian's chromium at ${CHROMIUM}`;
if (CI && chromiumSkip) throw new Error(`CI=true but ${CHROMIUM} is missing`);

const READ = 'read-token-for-the-dashboard';
const KEY = 'ingest-key-for-the-dashboard';

describe('dashboard hardening in Chromium', { skip: chromiumSkip, timeout: 120_000 }, () => {
  const fixture = sqliteFixture();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-dash-hard-'));
  const webDir = path.join(tmp, 'ui');
  const apps: FastifyInstance[] = [];
  let browser: Browser | undefined;

  async function serve(env: Record<string, string>): Promise<string> {
    const app = await buildApp(fixture.config(env), { webDir });
    apps.push(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    assert.ok(addr && typeof addr === 'object');
    const base = `http://127.0.0.1:${addr.port}`;
    for (const id of ['.', '..', 'exp_ok']) {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${base}/api/submit`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-ingest-key': KEY },
          body: JSON.stringify(dashEvent(id, Date.now() / 1000 - 100 + i, { session_id: `sess-${id}` })),
        });
        assert.equal(res.status, 200);
      }
    }
    return base;
  }

  /** Opens base/hash and waits until the view has mounted (or failed visibly). */
  async function open(base: string, hash: string, page?: Page) {
    const p = page ?? (await browser!.newPage());
    const problems: string[] = [];
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // CSP violations (security headers vs the dashboard's own policy) show up here.
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    await p.evaluate(() => delete document.body?.dataset.ready).catch(() => {});
    await p.goto(`${base}/${hash}`);
    await p.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 15_000 });
    return {
      page: p,
      problems,
      text: (await p.textContent('#view')) ?? '',
      status: (await p.textContent('#status')) ?? '',
    };
  }

  before(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'src/web/build.mjs'), webDir], { stdio: 'pipe' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    for (const app of apps) await app.close();
    await fixture.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('experiments named "." and ".." open, with their sessions', async () => {
    const base = await serve({});
    for (const id of ['.', '..']) {
      const v = await open(base, `#/experiment/${encodeURIComponent(id)}`);
      assert.deepEqual(v.problems, [], id);
      // The session is a row of the table, shown as its run with its id as the link's tooltip.
      assert.equal(
        await v.page.getAttribute(`table.qoe tr[data-row="sess-${id}"] a`, 'title'),
        `session sess-${id}`,
      );
      await v.page.close();
    }
    // The experiments list links to them and the session view opens too.
    const s = await open(base, `#/session/${encodeURIComponent('..')}/sess-..`);
    assert.deepEqual(s.problems, []);
    await s.page.close();
  });

  test('a malformed %-escape in the hash does not leave the view on "Loading…"', async () => {
    const base = await serve({});
    const v = await open(base, '#/session/exp_ok/%E0%A4%A');
    assert.ok(!v.problems.some((p) => p.startsWith('page error')), v.problems.join('\n'));
    assert.notEqual(v.status, 'Loading…');
    await v.page.close();
  });

  test('public profile: the token given as #read_token= is kept for the tab and sent on reads', async () => {
    const base = await serve({
      SECURITY_PROFILE: 'public',
      READ_TOKEN: READ,
      INGEST_KEYS: KEY,
      CORS_ORIGINS: 'https://player.example.org',
    });
    const without = await open(base, '#/');
    assert.match(without.text, /read_token/);
    await without.page.close();

    const v = await open(base, `#read_token=${READ}`);
    assert.deepEqual(v.problems, []);
    assert.ok(v.text.includes('exp_ok'), v.text.slice(0, 300));
    assert.ok(!v.page.url().includes(READ), 'the token is taken out of the address bar');
    const next = await open(base, '#/experiment/exp_ok', v.page);
    assert.deepEqual(next.problems, []);
    assert.equal(
      await next.page.getAttribute('table.qoe tr[data-row="sess-exp_ok"] a', 'title'),
      'session sess-exp_ok',
    );
    const csv = await v.page.getAttribute('a[data-format="csv"]', 'href');
    assert.ok(csv);
    const res = await fetch(new URL(csv, base));
    assert.equal(res.status, 200, 'the CSV download link carries the token');
    await v.page.close();
  });
});
