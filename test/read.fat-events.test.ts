// Fat events (7 MB each: 20 on SQLite, 4 on FerretDB, which reads them slowly; written straight through the store as an older version without a
// per-event limit would have stored them) stay readable through GET /api/metrics on every store:
// pages end by bytes (READ_PAGE_MAX_BYTES) with a next cursor, every event is read exactly once,
// the unpaged stream reaches a real socket in full, and the server's memory stays bounded.
// Starts the app on each store (inject for pages, a loopback port for the stream).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import type { EventDoc } from '../src/events/schema.ts';
import type { EventStore } from '../src/store/types.ts';
import { dashEvent } from './helpers/events.ts';
import { openStore, storeFixtures } from './helpers/stores.ts';

const EXP = 'fat';
const FAT = 7 * 1024 * 1024;

/** Samples this process's RSS until stopped; returns the peak growth over the start. */
function rssWatch(): () => number {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage.rss()) - start;
  };
}

for (const fixture of storeFixtures()) {
  describe(`fat events on ${fixture.name}`, { skip: fixture.skip }, () => {
    const EVENTS = fixture.name === 'sqlite' ? 20 : 4;
    const PAGE_BYTES = (fixture.name === 'sqlite' ? 16 : 8) * 1024 * 1024;
    let app: FastifyInstance;
    let store: EventStore;
    before(async () => {
      const config = fixture.config({ READ_PAGE_MAX_BYTES: String(PAGE_BYTES) });
      store = await openStore(config);
      app = await buildApp(config, { store });
      const blob = 'x'.repeat(FAT);
      for (let i = 0; i < EVENTS; i += 4) {
        const docs = Array.from(
          { length: 4 },
          (_, j) =>
            ({
              ...dashEvent(EXP, 1700000000 + i + j, { payload: { n: i + j, blob } }),
              stored_at: new Date(),
            }) as EventDoc,
        );
        await store.insertMany(docs);
      }
    });
    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
    });

    test('pages end by bytes; following next_cursor reads every event once (JSON, NDJSON)', async () => {
      for (const format of ['json', 'ndjson'] as const) {
        const stop = rssWatch();
        const seen: number[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const q = `format=${format}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await app.inject({ method: 'GET', url: `/api/metrics/${EXP}?${q}` });
          assert.equal(res.statusCode, 200, res.body.slice(0, 300));
          pages++;
          // A page stops once it holds PAGE_BYTES: at most one event more than that.
          assert.ok(res.rawPayload.length < PAGE_BYTES + FAT + 64 * 1024, `${format} page ${pages}`);
          if (format === 'json') {
            const body = res.json();
            for (const m of body.metrics) seen.push(m.payload.n);
            cursor = body.next_cursor;
          } else {
            for (const line of res.body.split('\n').filter(Boolean)) seen.push(JSON.parse(line).payload.n);
            cursor = res.headers['x-next-cursor'] as string | undefined;
          }
        } while (cursor && pages < 50);
        const growth = stop();
        assert.deepEqual(
          seen,
          Array.from({ length: EVENTS }, (_, i) => i),
        );
        assert.ok(pages >= Math.ceil((EVENTS * FAT) / (PAGE_BYTES + FAT)), `${format}: ${pages} pages`);
        console.log(
          `# ${fixture.name} ${format}: ${pages} pages, peak RSS growth ${Math.round(growth / 2 ** 20)} MiB`,
        );
        // The bound is loose: each page's store batch (up to limit + 1 rows) is held while it is
        // framed; what must not happen is a page or a string the size of the whole experiment.
        assert.ok(growth < 1.5 * 1024 * 1024 * 1024, `RSS grew by ${growth} bytes`);
      }
    });

    test('the unpaged stream reaches a real socket in full, in bounded chunks', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      const stop = rssWatch();
      const { bytes, largestChunk, lines } = await new Promise<{
        bytes: number;
        largestChunk: number;
        lines: number;
      }>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', path: `/api/metrics/${EXP}?format=ndjson` }, (res) => {
            let bytes = 0;
            let largestChunk = 0;
            let lines = 0;
            res.on('data', (d: Buffer) => {
              bytes += d.length;
              largestChunk = Math.max(largestChunk, d.length);
              for (const b of d) if (b === 10) lines++;
            });
            res.on('end', () => resolve({ bytes, largestChunk, lines }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      const growth = stop();
      console.log(
        `# ${fixture.name} stream: ${bytes} bytes, peak RSS growth ${Math.round(growth / 2 ** 20)} MiB`,
      );
      assert.equal(lines, EVENTS);
      assert.ok(bytes > EVENTS * FAT);
      assert.ok(growth < 1024 * 1024 * 1024, `RSS grew by ${growth} bytes`);
      assert.ok(largestChunk <= FAT + 64 * 1024);
    });
  });
}
