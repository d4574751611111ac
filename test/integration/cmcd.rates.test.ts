// N7 (audit 2026-12-05): CMCD amplification is bounded in both profiles. Reports per second per
// client (CMCD_REPORTS_PER_S_PER_CLIENT, bursts of CMCD_MAX_REPORTS) and per session
// (CMCD_REPORTS_PER_S_PER_SESSION, bursts of 10 s worth), and the decompressed size of a request
// (BODY_LIMIT). Builds the app on SQLite (temp dir) and drives it with app.inject().
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import zlib from 'node:zlib';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

const cmcd = (body: Buffer | string, gzip = false) => ({
  method: 'POST' as const,
  url: '/api/cmcd/amp',
  headers: { 'content-type': 'application/cmcd', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
  payload: gzip ? zlib.gzipSync(body, { level: 9 }) : body,
});

test('a 46-byte gzip body of 1,000 reports is stored once, then the client must wait', async () => {
  const app = await buildApp(fixture.config());
  after(() => app.close());
  const bomb = Buffer.from('e=t\n'.repeat(1000));
  assert.ok(zlib.gzipSync(bomb, { level: 9 }).length < 64);
  const first = await app.inject(cmcd(bomb, true));
  assert.equal(first.statusCode, 200, first.body);
  assert.equal(first.json().stored, 1000);
  const again = await app.inject(cmcd(bomb, true));
  assert.equal(again.statusCode, 429, again.body);
  assert.equal(again.json().code, 'CMCD_RATE_LIMITED');
  assert.match(again.json().message, /CMCD_REPORTS_PER_S_PER_CLIENT/);
  assert.ok(Number(again.headers['retry-after']) >= 1);
  // Nothing of the refused request was stored.
  const list = (await app.inject('/api/experiments')).json().experiments as {
    experiment_id: string;
    count: number;
  }[];
  assert.equal(list.find((e) => e.experiment_id === 'amp')?.count, 1000);
});

test('the defaults cap both profiles', () => {
  const base = { LOG_LEVEL: 'silent', DATA_DIR: fixture.config().dataDir };
  const open = loadConfig(base);
  assert.equal(open.cmcd.reportsPerSPerClient, 1000);
  assert.equal(open.cmcd.reportsPerSPerSession, 20);
  const pub = loadConfig({
    ...base,
    SECURITY_PROFILE: 'public',
    INGEST_KEYS: 'ingest-key-aaaaaaaaaaaa',
    READ_TOKEN: 'read-token-rrrrrrrrrrrr',
    CORS_ORIGINS: 'https://player.example.org',
  });
  assert.equal(pub.cmcd.reportsPerSPerClient, 100);
  assert.equal(pub.cmcd.reportsPerSPerSession, 20);
});

test('a session over its rate has its extra reports rejected; other sessions are stored', async () => {
  const app = await buildApp(fixture.config({ CMCD_REPORTS_PER_S_PER_SESSION: '2' }));
  after(() => app.close());
  const lines = [
    ...Array.from({ length: 30 }, (_, i) => `e=t,sid="s1",sn=${i}`),
    ...Array.from({ length: 5 }, (_, i) => `e=t,sid="s2",sn=${i}`),
  ];
  const res = await app.inject(cmcd(lines.join('\n')));
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().stored, 25);
  const rejected = res.json().rejected as { code: string; message: string }[];
  assert.equal(rejected.length, 10);
  assert.ok(rejected.every((r) => r.code === 'CMCD_RATE_LIMITED' && /s1/.test(r.message)));

  const only = await app.inject(cmcd('e=t,sid="s1",sn=99'));
  assert.equal(only.statusCode, 429, only.body);
  assert.equal(only.json().code, 'CMCD_RATE_LIMITED');
});

test('the decompressed size of a request is capped by BODY_LIMIT', async () => {
  const app = await buildApp(fixture.config());
  after(() => app.close());
  const res = await app.inject(cmcd(Buffer.alloc(2 * 1024 * 1024, '\n'), true));
  assert.equal(res.statusCode, 413, res.body);
  assert.equal(res.json().code, 'BODY_TOO_LARGE');
  assert.match(res.json().message, /decompressed body is larger than 1048576 bytes/);
});
