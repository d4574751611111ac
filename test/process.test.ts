// The server as a process: starts on the embedded store with no database installed, stores
// what it acknowledged, shuts down cleanly on SIGTERM, and refuses bad configuration with a
// message naming the variable. Spawns `src/cli.ts` in a temp DATA_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { dashEvent } from './helpers/events.ts';
import { runCli, startServerProcess } from './helpers/server-process.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-proc-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('serves on the embedded store, drains on SIGTERM, and keeps the data for the next start', async () => {
  const env = { DATA_DIR: dir, LOG_LEVEL: 'warn', TIMESTAMP_CHECK: 'off' };
  const first = await startServerProcess(env);
  const health = await (await fetch(`${first.base}/api/health`)).json();
  assert.equal(health.storage, 'sqlite');
  const posts = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      fetch(`${first.base}/api/submit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(dashEvent('exp_proc', i)),
      }),
    ),
  );
  assert.ok(posts.every((r) => r.status === 200));
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.output());
  assert.ok(fs.existsSync(path.join(dir, 'stats.db')), 'the SQLite file is in DATA_DIR');

  const second = await startServerProcess(env);
  try {
    const body = await (await fetch(`${second.base}/api/metrics/exp_proc`)).json();
    assert.equal(body.count, 50);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test('bad configuration stops start-up naming the variable', async () => {
  const { code, output } = await runCli(['serve'], { SERVER_PORT: 'http', DATA_DIR: dir });
  assert.equal(code, 2);
  assert.match(output, /SERVER_PORT/);
  assert.doesNotMatch(output, /at .*\.ts:\d+/, 'no stack trace for a configuration error');
});

test('a port in use stops start-up saying which variable to change', async () => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-proc-port-'));
  const first = await startServerProcess({ DATA_DIR: dir, LOG_LEVEL: 'warn' });
  try {
    const port = new URL(first.base).port;
    const { code, output } = await runCli(['serve'], {
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: port,
      DATA_DIR: other,
      LOG_LEVEL: 'warn',
    });
    assert.equal(code, 1, output);
    assert.match(output, /EADDRINUSE/);
    assert.match(output, /set SERVER_PORT \(or PORT\) to a free port/);
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('serve --help prints the usage and does not start', async () => {
  const { code, output } = await runCli(['serve', '--help'], { SERVER_PORT: '1', DATA_DIR: dir });
  assert.equal(code, 0, output);
  assert.match(output, /^Usage: stats-server serve/);
});
