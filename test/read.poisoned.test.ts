// Reads over data stored by an older version with a non-finite timestamp (+-Infinity written
// through the SQLite store, a null timestamp written straight into the MongoDB collection):
// every metrics format pages through all events with cursors that the server accepts back, and
// the sessions, QoE and time-series reads answer without a 5xx. Starts the app on each store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MongoClient } from 'mongodb';
import { buildApp } from '../src/app.ts';
import type { EventDoc } from '../src/events/schema.ts';
import type { EventStore } from '../src/store/types.ts';
import { parseCsv } from './helpers/csv.ts';
import { MONGO_URL } from './helpers/env.ts';
import { dashEvent } from './helpers/events.ts';
import { openStore, storeFixtures } from './helpers/stores.ts';

const EXP = 'poison';

for (const fixture of storeFixtures()) {
  describe(`reads over poisoned timestamps on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    let store: EventStore;
    before(async () => {
      const config = fixture.config();
      store = await openStore(config);
      app = await buildApp(config, { store });
      const doc = (t: number) =>
        ({ ...dashEvent(EXP, t), session_id: 's1', stored_at: new Date() }) as EventDoc;
      await store.insertMany([doc(1700000000), doc(1700000001), doc(1700000002)]);
      if (fixture.name === 'sqlite') {
        // What an older version stored for 1e400 / -1e400: the REAL column holds +-Inf.
        await store.insertMany([doc(Number.POSITIVE_INFINITY), doc(Number.NEGATIVE_INFINITY)]);
      } else {
        // FerretDB refuses Infinity; a null timestamp is the poisoned document it can hold.
        const client = new MongoClient(MONGO_URL as string);
        try {
          await client
            .db(config.mongo.database)
            .collection(`metrics-${EXP}`)
            .insertOne({ ...doc(0), timestamp: null });
        } finally {
          await client.close();
        }
      }
    });
    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
    });

    const get = (url: string) => app.inject({ method: 'GET', url });
    const total = () => (fixture.name === 'sqlite' ? 5 : 4);

    /** Follows next_cursor / X-Next-Cursor to the end; returns the _ids in order. */
    async function readAll(format: 'json' | 'ndjson' | 'csv', limit: number): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const q = `format=${format}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const res = await get(`/api/metrics/${EXP}?${q}`);
        assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
        if (format === 'json') {
          const body = res.json();
          for (const m of body.metrics) ids.push(m._id);
          cursor = body.next_cursor;
        } else {
          if (format === 'ndjson') {
            for (const line of res.body.split('\n').filter(Boolean)) ids.push(JSON.parse(line)._id);
          } else {
            const [header, ...rows] = parseCsv(res.body);
            const at = (header as string[]).indexOf('_id');
            for (const r of rows) ids.push(r[at] as string);
          }
          cursor = res.headers['x-next-cursor'] as string | undefined;
        }
        if (!cursor) return ids;
      }
      assert.fail('paging did not end');
    }

    test('every format pages through every event exactly once, at any page size', async () => {
      const all = (await get(`/api/metrics/${EXP}`)).json();
      assert.equal(all.count, total());
      const expected = all.metrics.map((m: { _id: string }) => m._id);
      for (const format of ['json', 'ndjson', 'csv'] as const) {
        for (const limit of [1, 2, 3]) {
          assert.deepEqual(await readAll(format, limit), expected, `${format} limit=${limit}`);
        }
      }
    });

    test('sessions, QoE and time series answer without a server error', async () => {
      for (const url of [
        '/api/experiments',
        `/api/experiments/${EXP}/sessions`,
        `/api/experiments/${EXP}/qoe`,
        `/api/experiments/${EXP}/qoe?session=s1`,
        `/api/experiments/${EXP}/timeseries?metric=buffer&session=s1`,
      ]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      }
    });
  });
}
