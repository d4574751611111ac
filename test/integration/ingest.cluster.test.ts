// Multi-core: starts the real server process with WORKERS=2 (node:cluster, one port) on each
// store (an SQLite file; the MongoDB from MONGO_URL), submits events over many connections,
// and checks that both workers served requests, every event is stored once, and SIGTERM stops
// the whole cluster cleanly.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { dashEvent } from '../helpers/events.ts';
import { logLines, startServerProcess, waitForWorkers } from '../helpers/server-process.ts';
import { storeFixtures } from '../helpers/stores.ts';
import { scaled } from '../helpers/wait.ts';

function request(agent: http.Agent, method: string, url: string, body?: unknown) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      { method, agent, headers: data ? { 'content-type': 'application/json' } : {}, timeout: scaled(10_000) },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(data);
  });
}

for (const fixture of storeFixtures()) {
  describe(`WORKERS=2 on ${fixture.name}`, { skip: fixture.skip }, () => {
    after(() => fixture.cleanup());

    test('both workers take requests on one port and every event is stored once', async () => {
      const config = fixture.config();
      const env: Record<string, string> =
        config.storage === 'sqlite'
          ? { STORAGE: 'sqlite', DATA_DIR: config.dataDir }
          : { STORAGE: 'mongodb', MONGO_URL: config.mongo.url, MONGO_DATABASE: config.mongo.database };
      const server = await startServerProcess({ ...env, WORKERS: '2', TIMESTAMP_CHECK: 'off' });
      // Health answered once one worker listens; wait for the second.
      const workers = await waitForWorkers(server, 2).catch(async (err) => {
        await server.stop();
        throw err;
      });
      // Fresh connections are spread over the workers by the cluster primary.
      const agent = new http.Agent({ keepAlive: false, maxSockets: 16 });
      try {
        assert.equal(workers.size, 2, 'two worker processes');
        const replies = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            i % 10 === 0
              ? request(agent, 'POST', `${server.base}/api/submit/batch`, [
                  dashEvent('cluster', i, { event_id: `b${i}` }),
                  dashEvent('cluster', i, { event_id: `b${i}` }),
                ])
              : request(
                  agent,
                  'POST',
                  `${server.base}/api/submit`,
                  dashEvent('cluster', i, { event_id: `s${i}` }),
                ),
          ),
        );
        for (const r of replies) assert.equal(r.status, 200, r.text);
        // Each single and each batch (whose two events share an event_id) stored once.
        const read = await request(agent, 'GET', `${server.base}/api/metrics/cluster`);
        assert.equal(JSON.parse(read.text).count, 200);
        const servedBy = new Set(
          logLines(server)
            .filter((l) => l.includes('"request completed"'))
            .map((l) => JSON.parse(l).pid as number),
        );
        assert.equal(servedBy.size, 2, 'requests were served by both workers');
      } catch (err) {
        // Never leave the cluster running (it would keep the test process alive).
        await server.stop(10_000);
        throw err;
      } finally {
        agent.destroy();
      }
      await server.stop(10_000);
      assert.equal(await server.exited, 0, 'SIGTERM stops the cluster cleanly');
    });
  });
}
