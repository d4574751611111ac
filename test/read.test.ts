// Streamed GET /api/metrics/:id on every store (SQLite file, MongoDB via MONGO_URL): JSON,
// NDJSON and CSV by format= and Accept, session filter, snapshot paging that returns every event
// exactly once while events (late and new) arrive, bad cursors, and a store failure mid-stream
// over a real socket. Starts the app (inject and a listening loopback port) on each store.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import type { EventDoc, StoredEvent } from '../src/events/schema.ts';
import { COLUMNS, flatten } from '../src/export/columns.ts';
import type { MongoStore } from '../src/store/mongo/index.ts';
import type { EventStore } from '../src/store/types.ts';
import { parseCsv } from './helpers/csv.ts';
import { dashEvent } from './helpers/events.ts';
import { openStore, storeFixtures } from './helpers/stores.ts';

/** Writes test events straight to a store (as the ingest path would, stored_at included). */
const insert = (store: EventStore, events: object[]) => store.insertMany(events as EventDoc[]);

for (const fixture of storeFixtures()) {
  describe(`streamed metrics reads on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    let store: EventStore;

    before(async () => {
      const config = fixture.config();
      store = await openStore(config);
      app = await buildApp(config, { store });
    });
    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
    });

    const get = (url: string, headers: Record<string, string> = {}) =>
      app.inject({ method: 'GET', url, headers });
    const submit = (e: object) => app.inject({ method: 'POST', url: '/api/submit', payload: e });

    test('JSON, NDJSON and CSV carry the same events; format= wins over Accept', async () => {
      const exp = 'fmt';
      await insert(store, [
        { ...dashEvent(exp, 3), stored_at: new Date() },
        {
          ...dashEvent(exp, 1, { payload: { note: 'comma, "quote"\nnewline', n: 1 } }),
          session_id: 's1',
          event_id: 'e1',
          client: 'x',
          stored_at: new Date(),
        },
        { ...dashEvent(exp, 2), stored_at: new Date() },
      ]);
      const json = await get(`/api/metrics/${exp}`);
      assert.equal(json.statusCode, 200);
      assert.match(String(json.headers['content-type']), /^application\/json/);
      const body = json.json();
      assert.equal(body.experiment_id, exp);
      assert.equal(body.count, 3);
      assert.equal(body.next_cursor, undefined, 'no next_cursor without more pages');
      assert.deepEqual(
        body.metrics.map((m: StoredEvent) => m.timestamp),
        [1, 2, 3],
      );

      for (const [url, headers] of [
        [`/api/metrics/${exp}?format=ndjson`, {}],
        [`/api/metrics/${exp}`, { accept: 'application/x-ndjson' }],
        [`/api/metrics/${exp}?format=ndjson`, { accept: 'text/csv' }],
      ] as const) {
        const res = await get(url, headers);
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
        assert.ok(res.body.endsWith('\n'));
        const lines = res.body.trimEnd().split('\n');
        assert.deepEqual(
          lines.map((l) => JSON.parse(l)),
          body.metrics,
        );
      }

      for (const [url, headers] of [
        [`/api/metrics/${exp}?format=csv`, {}],
        [`/api/metrics/${exp}`, { accept: 'text/html;q=0.9, text/csv' }],
      ] as const) {
        const res = await get(url, headers);
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/csv/);
        const rows = parseCsv(res.body);
        assert.deepEqual(rows[0], [...COLUMNS]);
        assert.equal(rows.length, 4);
        const expected = body.metrics.map((m: StoredEvent) =>
          COLUMNS.map((c) => {
            const v = flatten(m)[c];
            return v === null ? '' : String(v);
          }),
        );
        assert.deepEqual(rows.slice(1), expected);
        assert.deepEqual(JSON.parse(rows[1]?.[COLUMNS.indexOf('payload')] ?? ''), {
          note: 'comma, "quote"\nnewline',
          n: 1,
        });
        assert.deepEqual(JSON.parse(rows[1]?.[COLUMNS.indexOf('extra')] ?? ''), { client: 'x' });
      }

      const browser = await get(`/api/metrics/${exp}`, { accept: 'text/html,*/*;q=0.8' });
      assert.match(String(browser.headers['content-type']), /^application\/json/);
      const bad = await get(`/api/metrics/${exp}?format=xml`);
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, 'INVALID_QUERY');
    });

    test('session_id filters by session_id, then payload.session_id, then video_id', async () => {
      const exp = 'sess';
      const at = (t: number, extra: object) => ({ ...dashEvent(exp, t), ...extra, stored_at: new Date() });
      await insert(store, [
        at(1, { session_id: 'A' }),
        at(2, { payload: { session_id: 'A' } }),
        at(3, { video_id: 'A' }), // no session id: keyed by video_id "A"
        at(4, { session_id: 'B', video_id: 'A' }),
        at(5, { video_id: 'v2' }),
      ]);
      const ts = async (s: string) =>
        (await get(`/api/metrics/${exp}?session_id=${s}`))
          .json()
          .metrics.map((m: StoredEvent) => m.timestamp);
      assert.deepEqual(await ts('A'), [1, 2, 3]);
      assert.deepEqual(await ts('B'), [4]);
      assert.deepEqual(await ts('v2'), [5]);
      assert.deepEqual(await ts('nope'), []);
    });

    test('paging returns every event exactly once while late and new events arrive', async () => {
      const exp = 'paging';
      const seeded: object[] = [];
      for (let i = 0; i < 300; i++) {
        // Pairs of equal timestamps exercise the _id tie-breaker.
        seeded.push({
          ...dashEvent(exp, 1000 + Math.floor(i / 2)),
          event_id: `seed-${i}`,
          stored_at: new Date(),
        });
      }
      await insert(store, seeded);

      const seen: StoredEvent[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let added = 0;
      do {
        const url = `/api/metrics/${exp}?limit=40${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        // Fetch a page while events arrive: one older than everything (late), one inside the
        // range already paged, one in the future.
        const [res] = await Promise.all([
          get(url),
          submit({ ...dashEvent(exp, 500 + pages), event_id: `late-${pages}` }),
          submit({ ...dashEvent(exp, 1000 + pages * 5 + 0.5), event_id: `mid-${pages}` }),
          submit({ ...dashEvent(exp, 5000 + pages), event_id: `new-${pages}` }),
        ]);
        added += 3;
        assert.equal(res.statusCode, 200);
        const body = res.json();
        assert.ok(body.count <= 40);
        seen.push(...body.metrics);
        cursor = body.next_cursor;
        pages++;
      } while (cursor && pages < 50);
      assert.ok(!cursor, 'paging ended');

      const ids = seen.map((m) => m._id);
      assert.equal(new Set(ids).size, ids.length, 'no event twice');
      const eventIds = new Set(seen.map((m) => m.event_id));
      for (let i = 0; i < 300; i++) assert.ok(eventIds.has(`seed-${i}`), `seed-${i} returned`);
      // The first page's request may race its own concurrent inserts; later ones are never in the snapshot.
      const extra = seen.filter((m) => !String(m.event_id).startsWith('seed-'));
      assert.ok(
        extra.every((m) => /-0$/.test(String(m.event_id))),
        `only events racing the first page may appear: ${extra.map((m) => m.event_id)}`,
      );
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1] as StoredEvent;
        const b = seen[i] as StoredEvent;
        assert.ok(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a._id < b._id), 'sorted');
      }
      // A new read sees everything, the late events included.
      const all = (await get(`/api/metrics/${exp}`)).json();
      assert.equal(all.count, 300 + added);
    });

    test('NDJSON and CSV pages carry X-Next-Cursor; cursors are checked', async () => {
      const exp = 'paging';
      const first = await get(
        `/api/metrics/${exp}?format=ndjson&limit=7&event_type=fragment_loading_completed`,
      );
      assert.equal(first.statusCode, 200);
      assert.equal(first.body.trimEnd().split('\n').length, 7);
      const next = String(first.headers['x-next-cursor']);
      assert.ok(next.length > 0);
      const second = await get(
        `/api/metrics/${exp}?format=csv&limit=7&event_type=fragment_loading_completed&cursor=${next}`,
      );
      assert.equal(parseCsv(second.body).length, 8);
      const firstIds = first.body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)._id);
      const secondIds = parseCsv(second.body)
        .slice(1)
        .map((r) => r[0]);
      assert.equal(new Set([...firstIds, ...secondIds]).size, 14);

      const otherFilters = await get(`/api/metrics/${exp}?limit=7&cursor=${next}`);
      assert.equal(otherFilters.statusCode, 400);
      assert.equal(otherFilters.json().code, 'INVALID_CURSOR');
      const garbage = await get(`/api/metrics/${exp}?cursor=not-a-cursor`);
      assert.equal(garbage.statusCode, 400);
      assert.equal(garbage.json().code, 'INVALID_CURSOR');
      const tooBig = await get(`/api/metrics/${exp}?limit=10001`);
      assert.equal(tooBig.statusCode, 400);
      assert.equal(tooBig.json().code, 'INVALID_QUERY');
    });

    test('a store failure mid-stream breaks the connection instead of a short 200', async () => {
      const config = fixture.config();
      const own = await openStore(config);
      const server = await buildApp(config, { store: own });
      try {
        const exp = 'midstream';
        const big = 'x'.repeat(300);
        for (let b = 0; b < 5; b++) {
          const batch = [];
          for (let i = 0; i < 10_000; i++)
            batch.push({
              ...dashEvent(exp, b * 10_000 + i, { payload: { pad: big } }),
              stored_at: new Date(),
            });
          await insert(own, batch);
        }
        await server.listen({ host: '127.0.0.1', port: 0 });
        const { port } = server.server.address() as AddressInfo;
        const outcome = await new Promise<{ complete: boolean; bytes: number; error?: string }>((resolve) => {
          const req = http.get({ host: '127.0.0.1', port, path: `/api/metrics/${exp}` }, (res) => {
            assert.equal(res.statusCode, 200);
            let bytes = 0;
            let closedStore = false;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              if (!closedStore) {
                closedStore = true;
                // Stop reading so the server blocks on backpressure, fail the store, then resume.
                res.pause();
                const fail =
                  own.kind === 'mongodb' ? (own as unknown as MongoStore).client.close(true) : own.close();
                fail.then(() => setTimeout(() => res.resume(), 100));
              }
            });
            res.on('end', () => resolve({ complete: res.complete, bytes }));
            res.on('error', (err) => resolve({ complete: false, bytes, error: err.message }));
            res.on('aborted', () => resolve({ complete: false, bytes, error: 'aborted' }));
          });
          req.on('error', (err) => resolve({ complete: false, bytes: 0, error: err.message }));
        });
        assert.equal(outcome.complete, false, `response must not complete (${outcome.bytes} bytes)`);
      } finally {
        await server.close();
        await own.close().catch(() => {});
      }
    });
  });
}
