// One server per SQLite file: starts real server processes (src/cli.ts) on one DATA_DIR and checks
// that a second one is refused (exit 2, naming DATA_DIR) while the first keeps serving, that a
// killed server's lock does not block a restart, and that WORKERS=2 (one server) is allowed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { dashEvent } from '../helpers/events.ts';
import { runCli, startServerProcess } from '../helpers/server-process.ts';
import { scaled } from '../helpers/wait.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-lock-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const post = (base: string, ts: number) =>
  fetch(`${base}/api/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(dashEvent('exp_lock', ts)),
  });

test('a second server on the same DATA_DIR is refused with exit code 2', {
  timeout: scaled(60_000),
}, async () => {
  const dataDir = path.join(root, 'a');
  const env = { STORAGE: 'sqlite', DATA_DIR: dataDir, LOG_LEVEL: 'warn', TIMESTAMP_CHECK: 'off' };
  const first = await startServerProcess(env);
  try {
    const second = await runCli(['serve'], { ...env, SERVER_HOST: '127.0.0.1', SERVER_PORT: '0' });
    assert.equal(second.code, 2, second.output);
    assert.match(second.output, /DATA_DIR/);
    assert.ok(second.output.includes(dataDir), 'the message names the directory');
    assert.match(second.output, new RegExp(`pid ${first.pid}`), 'and the server holding it');
    assert.equal((await post(first.base, 1)).status, 200, 'the first server keeps serving');
  } finally {
    await first.stop();
  }
  assert.ok(!fs.existsSync(path.join(dataDir, 'stats-server.lock')), 'released on a clean exit');
  // A clean exit lets the next server start at once, and it sees what the first stored.
  const next = await startServerProcess(env);
  try {
    const body = await (await fetch(`${next.base}/api/metrics/exp_lock`)).json();
    assert.equal(body.count, 1);
  } finally {
    await next.stop();
  }
});

test('a killed server does not block a restart', { timeout: scaled(60_000) }, async () => {
  const dataDir = path.join(root, 'b');
  const env = { STORAGE: 'sqlite', DATA_DIR: dataDir, LOG_LEVEL: 'warn', TIMESTAMP_CHECK: 'off' };
  const first = await startServerProcess(env);
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(fs.existsSync(path.join(dataDir, 'stats-server.lock')), 'SIGKILL leaves the lock behind');
  const restarted = await startServerProcess(env);
  try {
    assert.equal((await post(restarted.base, 2)).status, 200);
  } finally {
    await restarted.stop();
  }
});

test('WORKERS=2 is one server: its workers share the file', { timeout: scaled(60_000) }, async () => {
  const dataDir = path.join(root, 'c');
  const env = {
    STORAGE: 'sqlite',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    WORKERS: '2',
    TIMESTAMP_CHECK: 'off',
  };
  const server = await startServerProcess(env);
  try {
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post(server.base, i)));
    assert.ok(replies.every((r) => r.status === 200));
    const again = await runCli(['serve'], { ...env, SERVER_HOST: '127.0.0.1', SERVER_PORT: '0' });
    assert.equal(again.code, 2, 'a second cluster on the file is refused too');
  } finally {
    await server.stop();
  }
});
