// Logs: one structured line per request with its request id, and never payload bodies or
// credentials. Builds the app (SQLite store, and a MongoDB store with a password in its URL
// that cannot be reached) with the logger writing into memory.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { configFrom } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

function memoryLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

test('requests are logged with their id, payloads are not', async () => {
  const log = memoryLog();
  const config = fixture.config({ LOG_LEVEL: 'info' });
  const app = await buildApp(config, { logger: { stream: log.stream } });
  try {
    const secret = 'PAYLOAD-SECRET-7f3a';
    const res = await app.inject({
      method: 'POST',
      url: '/api/submit',
      headers: { 'x-request-id': 'req-123', authorization: 'Bearer TOKEN-SECRET-99' },
      payload: { ...dashEvent('exp_log', 1), payload: { note: secret } },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'req-123', 'the request id is echoed to the client');
    const all = log.lines.join('\n');
    assert.ok(
      log.lines.some((l) => JSON.parse(l).reqId === 'req-123'),
      'log lines carry the request id',
    );
    assert.ok(!all.includes(secret), 'payload bodies are not logged');
    assert.ok(!all.includes('TOKEN-SECRET-99'), 'authorization headers are not logged');
  } finally {
    await app.close();
  }
});

test('MongoDB credentials appear neither in logs nor in health output', async () => {
  const log = memoryLog();
  const config = configFrom({
    STORAGE: 'mongodb',
    MONGO_URL:
      'mongodb://admin:SUPER-SECRET-PW@127.0.0.1:1/testbed?authSource=admin&serverSelectionTimeoutMS=200',
    LOG_LEVEL: 'debug',
  });
  const app = await buildApp(config, { logger: { stream: log.stream } });
  try {
    const health = await app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(health.statusCode, 503);
    const submit = await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('exp_log', 1) });
    assert.equal(submit.statusCode, 503);
    for (const text of [health.body, submit.body, log.lines.join('\n')]) {
      assert.ok(!text.includes('SUPER-SECRET-PW'), text.slice(0, 300));
    }
  } finally {
    await app.close();
  }
});
