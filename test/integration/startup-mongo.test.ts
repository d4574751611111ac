// Start-up on an unreachable MongoDB says so: the log names host and port (never the
// password), for MONGO_URL and for STORAGE=mongodb with the testbed's defaults; store errors
// in health name the target instead of "Topology is closed". Starts real server processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mongoTarget } from '../../src/server.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { waitUntil } from '../helpers/wait.ts';

/** The output once it matches `re` (the deadline is scaled by the load). */
function logsUntil(output: () => string, re: RegExp, ms = 20_000): Promise<string> {
  return waitUntil(output, (out) => re.test(out), {
    what: `a log line matching ${re}`,
    timeoutMs: ms,
    show: (out) => out,
  });
}

test('an unreachable MongoDB is named at start, without the password', async () => {
  const server = await startServerProcess({
    STORAGE: 'mongodb',
    MONGO_URL: 'mongodb://alice:s3cret-pass@127.0.0.1:27999/testbed?serverSelectionTimeoutMS=500',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  });
  try {
    const out = await logsUntil(server.output, /cannot reach MongoDB at 127\.0\.0\.1:27999/);
    assert.match(out, /connecting to MongoDB at 127\.0\.0\.1:27999/);
    assert.match(out, /cannot reach MongoDB at 127\.0\.0\.1:27999/);
    assert.doesNotMatch(out, /s3cret-pass/);
  } finally {
    await server.stop();
  }
});

test('STORAGE=mongodb without a URL says which host it targets', async () => {
  const server = await startServerProcess({ STORAGE: 'mongodb', LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
  try {
    const out = await logsUntil(server.output, /connecting to MongoDB at mongo:27017/, 10_000);
    assert.match(out, /connecting to MongoDB at mongo:27017/);
    assert.doesNotMatch(out, /starlink@/);
  } finally {
    await server.stop();
  }
});

test('mongoTarget names hosts and ports only', () => {
  assert.equal(mongoTarget('mongodb://u:p@h1:1,h2:2/db?x=1'), 'h1:1,h2:2');
  assert.equal(mongoTarget('mongodb+srv://u:p@cluster0.example.net/db'), 'cluster0.example.net');
  assert.equal(mongoTarget('mongodb://localhost'), 'localhost');
});
