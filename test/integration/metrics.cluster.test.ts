// /metrics under WORKERS=2: starts the real server process (node:cluster, SQLite in a temp dir),
// spreads submits over both workers on fresh connections, and checks that every scrape, whichever
// worker takes it, reports the whole cluster's counts (summed by the primary).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { dashEvent } from '../helpers/events.ts';
import { logLines, startServerProcess, waitForWorkers } from '../helpers/server-process.ts';
import { scaled } from '../helpers/wait.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-metrics-cluster-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function request(agent: http.Agent, method: string, url: string, body?: unknown) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const sample = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? Number.NaN);

test('every scrape reports the sum over the workers', { timeout: scaled(90_000) }, async () => {
  const server = await startServerProcess({
    STORAGE: 'sqlite',
    DATA_DIR: dir,
    WORKERS: '2',
    TIMESTAMP_CHECK: 'off',
  });
  const agent = new http.Agent({ keepAlive: false, maxSockets: 8 });
  try {
    await waitForWorkers(server, 2); // health answered once one worker listens
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        request(agent, 'POST', `${server.base}/api/submit`, dashEvent('mc', i, { event_id: `e${i}` })),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, r.text);
    const servedBy = new Set(
      logLines(server)
        .filter((l) => l.includes('"incoming request"') && l.includes('"/api/submit"'))
        .map((l) => JSON.parse(l).pid as number),
    );
    assert.equal(servedBy.size, 2, 'the submits were served by both workers');

    for (let i = 0; i < 4; i++) {
      const scrape = await request(agent, 'GET', `${server.base}/metrics`);
      assert.equal(scrape.status, 200);
      assert.equal(sample(scrape.text, /^stats_ingest_events_total\{result="stored"\} (\d+)/m), 40);
      assert.equal(
        sample(scrape.text, /^stats_http_requests_total\{[^}]*route="\/api\/submit",status="200"\} (\d+)/m),
        40,
      );
    }
  } finally {
    agent.destroy();
    await server.stop(10_000);
  }
});
