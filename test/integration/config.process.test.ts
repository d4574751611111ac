// Folded configuration names at start-up: the real server process (src/cli.ts serve, temp
// DATA_DIR) accepts them, applies them, and logs one deprecation warning for each.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { startServerProcess } from '../helpers/server-process.ts';
import { waitUntil } from '../helpers/wait.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-config-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('each folded variable that is set is warned about once; the server still starts', async () => {
  const server = await startServerProcess({
    DATA_DIR: dir,
    LOG_LEVEL: 'WARN',
    SQLITE_WRITE_THREAD: 'false',
    GROUP_COMMIT_MAX_EVENTS: '10',
  });
  try {
    assert.equal((await fetch(`${server.base}/api/health`)).status, 200);
    const warnings = () => server.output().match(/deprecated configuration: [A-Z_]+/g) ?? [];
    await waitUntil(warnings, (w) => w.length >= 2, { what: 'two deprecation warnings', timeoutMs: 5000 });
    assert.deepEqual(warnings().sort(), [
      'deprecated configuration: GROUP_COMMIT_MAX_EVENTS',
      'deprecated configuration: SQLITE_WRITE_THREAD',
    ]);
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('SQLITE_WRITE_THREAD'));
    assert.equal(JSON.parse(line ?? '{}').level, 40, 'logged as a warning');
  } finally {
    await server.stop();
  }
});
