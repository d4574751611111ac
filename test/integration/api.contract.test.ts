// The HTTP API of the Flask server the testbed relies on (POST /api/submit, GET /api/health,
// GET /api/metrics/:id), run through app.inject() against every store: an SQLite file in a temp
// dir and a real MongoDB-compatible server (MONGO_URL; FerretDB by default).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MongoClient } from 'mongodb';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { storeFixtures } from '../helpers/stores.ts';

for (const fixture of storeFixtures()) {
  describe(`API contract on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    let config: Readonly<Config>;

    before(async () => {
      config = fixture.config({ BODY_LIMIT: '4096' });
      app = await buildApp(config);
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    const submit = (body: unknown) =>
      app.inject({ method: 'POST', url: '/api/submit', payload: body as object });
    const metrics = (id: string, qs = '') => app.inject({ method: 'GET', url: `/api/metrics/${id}${qs}` });

    test('a valid event is stored and read back with _id, stored_at, defaults and extra fields', async () => {
      const before = Date.now();
      const res = await submit({
        experiment_id: 'exp_001',
        timestamp: 1700000000.123,
        event_type: 'fragment_loading_completed',
        protocol: 'dash',
        payload: { url: 'http://x/seg1.m4s', quality: 2, bitrate: 2000000 },
        client_version: '1.2.3',
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'success' });

      const read = await metrics('exp_001');
      assert.equal(read.statusCode, 200);
      const body = read.json();
      assert.equal(body.experiment_id, 'exp_001');
      assert.equal(body.count, 1);
      const [m] = body.metrics;
      assert.match(m._id, /^[0-9a-f]{24}$/);
      assert.equal(m.video_id, 'unknown');
      assert.equal(m.timestamp, 1700000000.123);
      assert.equal(m.protocol, 'dash');
      assert.deepEqual(m.payload, { url: 'http://x/seg1.m4s', quality: 2, bitrate: 2000000 });
      assert.equal(m.client_version, '1.2.3', 'unknown top-level fields are kept');
      const storedAt = Date.parse(m.stored_at);
      assert.ok(storedAt >= before - 1000 && storedAt <= Date.now() + 1000, `stored_at ${m.stored_at}`);
    });

    test('long dotted experiment ids work and experiments are isolated', async () => {
      const id = 'exp_001_basic_terrestrial_dash-2025.12.03';
      assert.equal((await submit(dashEvent(id, 10))).statusCode, 200);
      assert.equal((await submit(dashEvent('other-exp', 10))).statusCode, 200);
      const body = (await metrics(id)).json();
      assert.equal(body.count, 1);
      assert.equal(body.metrics[0].experiment_id, id);
    });

    test('missing or wrong-typed fields are a 400 naming the field, and nothing is stored', async () => {
      const good = dashEvent('exp_bad', 1);
      const cases: Array<[string, Record<string, unknown>, string]> = [];
      for (const field of ['experiment_id', 'timestamp', 'event_type', 'protocol', 'payload']) {
        const { [field]: _omit, ...rest } = good;
        cases.push([`missing ${field}`, rest, `/${field}`]);
      }
      cases.push(['timestamp as string', { ...good, timestamp: '1700000000' }, '/timestamp']);
      cases.push(['payload as array', { ...good, payload: [1, 2] }, '/payload']);
      cases.push(['payload as string', { ...good, payload: 'x' }, '/payload']);
      cases.push(['event_type as number', { ...good, event_type: 5 }, '/event_type']);
      cases.push(['video_id as number', { ...good, video_id: 5 }, '/video_id']);
      for (const [name, body, path] of cases) {
        const res = await submit(body);
        assert.equal(res.statusCode, 400, name);
        const err = res.json();
        assert.equal(err.status, 'error', name);
        assert.ok(
          err.details.some((d: { path: string }) => d.path === path),
          `${name}: ${JSON.stringify(err)}`,
        );
        assert.ok(err.message.length > 0);
      }
      assert.equal((await metrics('exp_bad')).json().count, 0);
    });

    test('invalid experiment ids are refused on submit and on read', async () => {
      for (const id of ['', 'has space', 'a/b', 'x$y', 'a'.repeat(129), 'ünï', 'a\u0000b']) {
        const res = await submit(dashEvent(id, 1));
        assert.equal(res.statusCode, 400, JSON.stringify(id));
        assert.equal(res.json().code, 'INVALID_EXPERIMENT_ID', JSON.stringify(id));
      }
      const read = await metrics(encodeURIComponent('a b'));
      assert.equal(read.statusCode, 400);
      assert.equal(read.json().code, 'INVALID_EXPERIMENT_ID');
      assert.equal((await submit(dashEvent('a'.repeat(128), 1))).statusCode, 200);
    });

    test('malformed JSON, an empty body and a non-object body are 400s', async () => {
      const bad = await app.inject({
        method: 'POST',
        url: '/api/submit',
        headers: { 'content-type': 'application/json' },
        payload: '{"experiment_id": "x", ',
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, 'INVALID_JSON');
      const empty = await app.inject({
        method: 'POST',
        url: '/api/submit',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      assert.equal(empty.statusCode, 400);
      const arr = await submit([dashEvent('x', 1)]);
      assert.equal(arr.statusCode, 400);
      assert.equal(arr.json().code, 'VALIDATION_FAILED');
    });

    test('reserved and unstorable field names are refused', async () => {
      const withId = await submit({ ...dashEvent('exp_names', 1), _id: 'abc' });
      assert.equal(withId.statusCode, 400);
      assert.equal(withId.json().details[0].path, '/_id');
      const dollar = await submit({ ...dashEvent('exp_names', 1), payload: { nested: { $where: 1 } } });
      assert.equal(dollar.statusCode, 400);
      assert.equal(dollar.json().details[0].path, '/payload/nested/$where');
      assert.equal((await metrics('exp_names')).json().count, 0);
    });

    test('a body over the configured limit is a 413', async () => {
      const res = await submit({ ...dashEvent('exp_big', 1), payload: { blob: 'x'.repeat(5000) } });
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'BODY_TOO_LARGE');
    });

    test('unknown routes are a 404 in the same error shape', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/nope' });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'message', 'status']);
      assert.equal(res.json().code, 'NOT_FOUND');
    });

    test('metrics are sorted by timestamp and filter by type and inclusive time bounds (0 included)', async () => {
      const id = 'exp_filters';
      for (const [ts, type] of [
        [20, 'buffer_level_updated'],
        [0, 'stream_initialized'],
        [10, 'fragment_loading_completed'],
        [5, 'buffer_level_updated'],
        [10, 'buffer_level_updated'],
      ] as const) {
        assert.equal((await submit(dashEvent(id, ts, { event_type: type }))).statusCode, 200);
      }
      const all = (await metrics(id)).json();
      assert.deepEqual(
        all.metrics.map((m: { timestamp: number }) => m.timestamp),
        [0, 5, 10, 10, 20],
      );
      const ts = async (qs: string) =>
        (await metrics(id, qs)).json().metrics.map((m: { timestamp: number }) => m.timestamp);
      assert.deepEqual(await ts('?start_time=0'), [0, 5, 10, 10, 20]);
      assert.deepEqual(await ts('?end_time=0'), [0]);
      assert.deepEqual(await ts('?start_time=5&end_time=10'), [5, 10, 10]);
      assert.deepEqual(await ts('?event_type=buffer_level_updated'), [5, 10, 20]);
      assert.deepEqual(await ts('?event_type=buffer_level_updated&start_time=6&end_time=20'), [10, 20]);
      assert.deepEqual(await ts('?start_time=1.5&end_time=4.9'), []);
    });

    test('bad query values are a 400 naming the parameter; empty values mean no bound', async () => {
      for (const [qs, name] of [
        ['?start_time=abc', 'start_time'],
        ['?end_time=1x', 'end_time'],
      ]) {
        const res = await metrics('exp_filters', qs);
        assert.equal(res.statusCode, 400, qs);
        const err = res.json();
        assert.equal(err.code, 'INVALID_QUERY');
        assert.match(err.message, new RegExp(name as string));
      }
      const empty = await metrics('exp_filters', '?start_time=&end_time=');
      assert.equal(empty.statusCode, 200);
      assert.equal(empty.json().count, 5);
    });

    test('an unknown experiment reads as 200 with count 0', async () => {
      const res = await metrics('never_seen');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { experiment_id: 'never_seen', count: 0, metrics: [] });
    });

    test('health reports the store in use', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.status, 'healthy');
      assert.equal(body.service, 'stats_server');
      assert.equal(body.storage, fixture.name);
      assert.equal(body.mongodb, fixture.name === 'mongodb' ? 'connected' : 'not_used');
    });

    if (fixture.name === 'mongodb') {
      test('MongoDB layout is the Flask server’s: metrics-{id} collections, spec fields, BSON date, indexes', async () => {
        assert.equal(
          (await submit({ ...dashEvent('exp_layout', 42), video_id: 'http://m/x.mpd' })).statusCode,
          200,
        );
        const client = new MongoClient(config.mongo.url);
        try {
          const col = client.db(config.mongo.database).collection('metrics-exp_layout');
          const docs = await col.find().toArray();
          assert.equal(docs.length, 1);
          const d = docs[0] as Record<string, unknown>;
          assert.deepEqual(Object.keys(d).sort(), [
            '_id',
            'event_type',
            'experiment_id',
            'payload',
            'protocol',
            'session_base',
            'session_key',
            'stored_at',
            'timestamp',
            'video_id',
          ]);
          assert.ok(d.stored_at instanceof Date, 'stored_at is a BSON date');
          assert.equal(d.video_id, 'http://m/x.mpd');
          // The session ingest decided (a fallback key: run 1 of the video id), before stored_at.
          assert.equal(d.session_key, 'http://m/x.mpd');
          assert.equal(d.session_base, 'http://m/x.mpd');
          assert.deepEqual(Object.keys(d).slice(-3), ['session_key', 'session_base', 'stored_at']);
          const indexes = (await col.indexes()).map((i) => JSON.stringify(i.key));
          assert.ok(indexes.includes(JSON.stringify({ timestamp: 1, _id: 1 })), indexes.join());
          assert.ok(
            indexes.includes(JSON.stringify({ event_type: 1, timestamp: 1, _id: 1 })),
            indexes.join(),
          );
          assert.ok(
            indexes.includes(JSON.stringify({ session_key: 1, timestamp: 1, _id: 1 })),
            indexes.join(),
          );
          assert.ok(indexes.includes(JSON.stringify({ session_base: 1, timestamp: 1 })), indexes.join());
        } finally {
          await client.close();
        }
      });
    }
  });
}
