// The embedded store tells the truth about storage: on a full disk or with its data directory
// removed, writes answer 507 STORE_CANNOT_WRITE (no Retry-After) and
// are never acknowledged then lost, health says unhealthy, and writes resume once space is
// freed; a bad DATA_DIR (a file, /proc, a read-only file system) stops start-up naming the
// variable; a DELETE waiting on another
// process's lock does not stall other requests. Mounts small tmpfs file systems (needs root,
// as CI runs), starts the app and the CLI.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'libsql';
import { buildApp } from '../../src/app.ts';
import { configFrom } from '../../src/config/index.ts';
import { CI } from '../helpers/env.ts';
import { scaled } from '../helpers/wait.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && !CI ? 'needs root to mount a tmpfs' : false;
const mounts: string[] = [];
const dirs: string[] = [];
after(() => {
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpfs(size: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-tmpfs-'));
  dirs.push(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

const event = (i: number, pad = 0) => ({
  experiment_id: 'disk',
  timestamp: 1_750_000_000 + i,
  event_type: 'periodic_metrics',
  protocol: 'dash',
  session_id: 's',
  event_id: `e${i}`,
  payload: { buffer_level: 1, pad: 'x'.repeat(pad) },
});

describe('storage failures on sqlite', { skip }, () => {
  test('disk full: 507 without Retry-After, unhealthy, and writes resume once space is freed', async () => {
    const dir = tmpfs('3m');
    const app = await buildApp(configFrom({ STORAGE: 'sqlite', DATA_DIR: dir }));
    try {
      let failed:
        | { statusCode: number; headers: Record<string, unknown>; json(): { code: string } }
        | undefined;
      const acked: number[] = [];
      for (let i = 0; i < 400 && !failed; i++) {
        const res = await app.inject({ method: 'POST', url: '/api/submit', payload: event(i, 20_000) });
        if (res.statusCode === 200) acked.push(i);
        else failed = res;
      }
      assert.ok(failed, 'the disk filled up');
      assert.equal(failed.statusCode, 507);
      assert.equal(failed.json().code, 'STORE_CANNOT_WRITE');
      assert.equal(failed.headers['retry-after'], undefined);
      const health = await app.inject('/api/health');
      assert.equal(health.statusCode, 503);
      assert.equal(health.json().status, 'unhealthy');
      // Every acknowledged event is there.
      const read = (await app.inject('/api/metrics/disk')).json();
      assert.equal(read.count, acked.length);
    } finally {
      await app.close();
    }
  });

  test('disk full then freed: a small write succeeds again without a restart', async () => {
    const dir = tmpfs('4m');
    const filler = path.join(dir, 'filler');
    const app = await buildApp(configFrom({ STORAGE: 'sqlite', DATA_DIR: dir }));
    try {
      assert.equal(
        (await app.inject({ method: 'POST', url: '/api/submit', payload: event(0) })).statusCode,
        200,
      );
      // Fill the disk from outside.
      try {
        fs.writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
      } catch {
        // ENOSPC: it is full
      }
      let code = 200;
      for (let i = 1; i < 50 && code === 200; i++) {
        code = (await app.inject({ method: 'POST', url: '/api/submit', payload: event(i, 50_000) }))
          .statusCode;
      }
      assert.equal(code, 507);
      assert.equal((await app.inject('/api/health')).statusCode, 503);
      fs.rmSync(filler);
      const again = await app.inject({ method: 'POST', url: '/api/submit', payload: event(1000) });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((await app.inject('/api/health')).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('data directory removed under the running server', () => {
  test('writes are refused (never acknowledged and lost) and health says so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-gone-'));
    dirs.push(dir);
    const app = await buildApp(configFrom({ STORAGE: 'sqlite', DATA_DIR: dir }));
    try {
      assert.equal(
        (await app.inject({ method: 'POST', url: '/api/submit', payload: event(0) })).statusCode,
        200,
      );
      fs.rmSync(dir, { recursive: true, force: true });
      const res = await app.inject({ method: 'POST', url: '/api/submit', payload: event(1) });
      assert.equal(res.statusCode, 507, res.body);
      assert.equal(res.json().code, 'STORE_CANNOT_WRITE');
      const health = await app.inject('/api/health');
      assert.equal(health.statusCode, 503);
      assert.match(health.json().error, /removed or replaced/);
    } finally {
      await app.close();
    }
  });
});

describe('a bad DATA_DIR stops start-up naming the variable', () => {
  const cli = path.resolve(import.meta.dirname, '../../src/cli.ts');
  const start = (dataDir: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', cli, 'serve'], {
      env: { ...process.env, STORAGE: 'sqlite', DATA_DIR: dataDir, SERVER_PORT: '0', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: scaled(30_000),
    });
  test('a file, a kernel file system', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stats-file-')), 'f');
    dirs.push(path.dirname(file));
    fs.writeFileSync(file, 'x');
    for (const bad of [file, '/proc/stats-data']) {
      const r = start(bad);
      assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /DATA_DIR/);
    }
  });
  test('a read-only directory', { skip }, () => {
    const dir = tmpfs('1m');
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const r = start(path.join(dir, 'data'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /DATA_DIR/);
    execFileSync('mount', ['-o', 'remount,rw', dir]);
  });
});

describe('writes off the HTTP thread', () => {
  test("a DELETE waiting on another process's lock does not stall other requests", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-lock-'));
    dirs.push(dir);
    const app = await buildApp(
      configFrom({
        STORAGE: 'sqlite',
        DATA_DIR: dir,
        ALLOW_UNAUTHENTICATED_ADMIN: 'true',
      }),
    );
    const other = new Database(path.join(dir, 'stats.db'));
    try {
      assert.equal(
        (await app.inject({ method: 'POST', url: '/api/submit', payload: event(0) })).statusCode,
        200,
      );
      other.exec('BEGIN IMMEDIATE');
      let deleteDone = false;
      const del = app.inject({ method: 'DELETE', url: '/api/experiments/disk' }).then((r) => {
        deleteDone = true;
        return r;
      });
      const health = await app.inject('/api/health');
      assert.equal(health.statusCode, 200);
      assert.equal(deleteDone, false, 'health answered while the DELETE still waited for the lock');
      other.exec('ROLLBACK');
      assert.equal((await del).statusCode, 200);
    } finally {
      other.close();
      await app.close();
    }
  });
});
