// MongoDB store errors name the server (host:port) and the cause, never the password nor the
// driver's "Topology is closed". Starts nothing: the store points at a loopback port nobody
// listens on.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { MongoStore } from '../../src/store/mongo/index.ts';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('an unreachable MongoDB is named by host:port with the cause', async () => {
  const port = await closedPort();
  const store = new MongoStore({
    url: `mongodb://user:s3cret@127.0.0.1:${port}/?authSource=admin`,
    database: 'unreachable',
    serverSelectionTimeoutMs: 300,
  });
  await store.open();
  try {
    const where = new RegExp(`^cannot reach MongoDB at 127\\.0\\.0\\.1:${port}: `);
    const health = await store.health();
    assert.equal(health.ok, false);
    assert.match(health.detail ?? '', where);
    const errors: string[] = [health.detail ?? ''];
    const event = {
      experiment_id: 'e',
      timestamp: 1,
      event_type: 'stream_initialized',
      protocol: 'dash',
      video_id: 'v',
      payload: {},
      stored_at: new Date(),
    };
    await assert.rejects(store.insertMany([event]), (err: Error) => {
      errors.push(err.message);
      return where.test(err.message);
    });
    await assert.rejects(store.listSessions('e'), (err: Error) => {
      errors.push(err.message);
      return where.test(err.message);
    });
    for (const m of errors) {
      assert.doesNotMatch(m, /s3cret|Topology is closed|Client must be connected/, m);
    }
  } finally {
    await store.close();
  }
});
