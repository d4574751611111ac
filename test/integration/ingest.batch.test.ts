// POST /api/submit/batch (JSON array, {"events"}, NDJSON, per-event rejection, limits) and the
// beacon/compressed bodies of both submit endpoints, through app.inject() on every store
// (an SQLite file in a temp dir and the MongoDB from MONGO_URL).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { ConfigError, configFrom } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { storeFixtures } from '../helpers/stores.ts';

for (const fixture of storeFixtures()) {
  describe(`batch and beacon ingest on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;

    before(async () => {
      app = await buildApp(
        fixture.config({
          BODY_LIMIT: '4096',
          INGEST_BATCH_BODY_LIMIT: '65536',
          INGEST_BATCH_MAX_EVENTS: '50',
        }),
      );
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    const post = (url: string, payload: string | Buffer, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const count = async (id: string) => {
      const res = await app.inject({ method: 'GET', url: `/api/metrics/${id}` });
      return res.json().count as number;
    };

    test('a JSON array with events of two experiments is stored and counted', async () => {
      const events = [dashEvent('b_arr_1', 1), dashEvent('b_arr_2', 2), dashEvent('b_arr_1', 3)];
      const res = await post('/api/submit/batch', JSON.stringify(events));
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'success', stored: 3, duplicates: 0, rejected: [] });
      assert.equal(await count('b_arr_1'), 2);
      assert.equal(await count('b_arr_2'), 1);
    });

    test('{"events": [...]} and NDJSON (blank lines ignored) are batches too', async () => {
      const wrapped = await post('/api/submit/batch', JSON.stringify({ events: [dashEvent('b_wrap', 1)] }));
      assert.deepEqual(wrapped.json(), { status: 'success', stored: 1, duplicates: 0, rejected: [] });
      const ndjson = `${JSON.stringify(dashEvent('b_nd', 1))}\n\n${JSON.stringify(dashEvent('b_nd', 2))}\n`;
      const res = await post('/api/submit/batch', ndjson, { 'content-type': 'application/x-ndjson' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().stored, 2);
      assert.equal(await count('b_nd'), 2);
    });

    test('invalid events are rejected by index with a reason while valid ones are stored', async () => {
      const events = [
        dashEvent('b_mixed', 1),
        { ...dashEvent('b_mixed', 2), timestamp: 'soon' },
        dashEvent('bad id!', 3),
        { ...dashEvent('b_mixed', 4), payload: { 'a.b': 1 } },
        'not an object',
        dashEvent('b_mixed', 5),
      ];
      const res = await post('/api/submit/batch', JSON.stringify(events));
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.stored, 2);
      assert.deepEqual(
        body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [
          [1, 'VALIDATION_FAILED'],
          [2, 'INVALID_EXPERIMENT_ID'],
          [3, 'INVALID_FIELD_NAME'],
          [4, 'VALIDATION_FAILED'],
        ],
      );
      assert.equal(body.rejected[0].details[0].path, '/timestamp');
      assert.equal(body.rejected[2].details[0].path, '/payload/a.b');
      assert.equal(await count('b_mixed'), 2);
    });

    test('an NDJSON line that is not JSON (or poisons __proto__) is rejected by index, the others stored', async () => {
      const poisoned = '{"__proto__": {"admin": true}, "experiment_id": "b_ndbad"}';
      const ndjson = `${JSON.stringify(dashEvent('b_ndbad', 1))}\n{"oops"\n${JSON.stringify(dashEvent('b_ndbad', 2))}\n${poisoned}`;
      const res = await post('/api/submit/batch', ndjson, { 'content-type': 'application/x-ndjson' });
      const body = res.json();
      assert.equal(body.stored, 2);
      assert.deepEqual(
        body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [
          [1, 'INVALID_JSON'],
          [3, 'INVALID_JSON'],
        ],
      );
    });

    test('a body that is not a batch is a 400 and stores nothing', async () => {
      for (const payload of [JSON.stringify(dashEvent('b_not', 1)), '{"events": 5}', '42', '{"x"']) {
        const res = await post('/api/submit/batch', payload);
        assert.equal(res.statusCode, 400, payload);
        assert.equal(res.json().status, 'error');
        assert.ok(['NOT_A_BATCH', 'INVALID_JSON'].includes(res.json().code), res.body);
      }
      assert.equal(await count('b_not'), 0);
    });

    test('too many events or too many bytes is a 413 and stores nothing', async () => {
      const many = Array.from({ length: 51 }, (_, i) => dashEvent('b_big', i));
      const res = await post('/api/submit/batch', JSON.stringify(many));
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'TOO_MANY_EVENTS');
      const fat = [{ ...dashEvent('b_big', 1), payload: { pad: 'x'.repeat(70_000) } }];
      const res2 = await post('/api/submit/batch', JSON.stringify(fat));
      assert.equal(res2.statusCode, 413);
      assert.equal(res2.json().code, 'BODY_TOO_LARGE');
      assert.equal(await count('b_big'), 0);
    });

    test('text/plain JSON (sendBeacon) is accepted on both endpoints', async () => {
      const one = await post('/api/submit', JSON.stringify(dashEvent('b_beacon', 1)), {
        'content-type': 'text/plain;charset=UTF-8',
      });
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json(), { status: 'success' });
      const many = await post('/api/submit/batch', JSON.stringify([dashEvent('b_beacon', 2)]), {
        'content-type': 'text/plain;charset=UTF-8',
      });
      assert.equal(many.json().stored, 1);
      assert.equal(await count('b_beacon'), 2);
      const bad = await post('/api/submit', 'hello', { 'content-type': 'text/plain' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, 'INVALID_JSON');
    });

    test('gzip, deflate and br bodies are accepted on both endpoints', async () => {
      const ev = (t: number) => JSON.stringify(dashEvent('b_gzip', t));
      const cases: Array<[string, (b: Buffer) => Buffer]> = [
        ['gzip', zlib.gzipSync],
        ['deflate', zlib.deflateSync],
        ['deflate', zlib.deflateRawSync],
        ['br', zlib.brotliCompressSync],
      ];
      let t = 0;
      for (const [enc, compress] of cases) {
        const one = await post('/api/submit', compress(Buffer.from(ev(t++))), { 'content-encoding': enc });
        assert.equal(one.statusCode, 200, `${enc}: ${one.body}`);
        const nd = `${ev(t++)}\n${ev(t++)}`;
        const many = await post('/api/submit/batch', compress(Buffer.from(nd)), {
          'content-encoding': enc,
          'content-type': 'application/x-ndjson',
        });
        assert.equal(many.json().stored, 2, `${enc}: ${many.body}`);
      }
      const beacon = await post('/api/submit', zlib.gzipSync(Buffer.from(ev(t++))), {
        'content-encoding': 'gzip',
        'content-type': 'text/plain',
      });
      assert.equal(beacon.statusCode, 200);
      assert.equal(await count('b_gzip'), t);
    });

    test('the size limit applies to the decompressed body (a zip bomb is a 413)', async () => {
      // 4 KiB single-event limit: a few hundred compressed bytes that inflate to 1 MiB.
      const padded = { ...dashEvent('b_bomb', 1), payload: { pad: ' '.repeat(1024 * 1024) } };
      const bomb = zlib.gzipSync(Buffer.from(JSON.stringify(padded)));
      assert.ok(bomb.length < 4096);
      const res = await post('/api/submit', bomb, { 'content-encoding': 'gzip' });
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'BODY_TOO_LARGE');
      const res2 = await post('/api/submit/batch', bomb, { 'content-encoding': 'gzip' });
      assert.equal(res2.statusCode, 413);
      assert.equal(await count('b_bomb'), 0);
    });

    test('bad or unknown encodings are a clear 400 or 415', async () => {
      const garbage = await post('/api/submit', Buffer.from('definitely not gzip'), {
        'content-encoding': 'gzip',
      });
      assert.equal(garbage.statusCode, 400);
      assert.equal(garbage.json().code, 'INVALID_ENCODING');
      const truncated = zlib.gzipSync(Buffer.from(JSON.stringify(dashEvent('b_enc', 1)))).subarray(0, 20);
      const cut = await post('/api/submit/batch', truncated, { 'content-encoding': 'gzip' });
      assert.equal(cut.statusCode, 400);
      assert.equal(cut.json().code, 'INVALID_ENCODING');
      for (const enc of ['br', 'deflate']) {
        const bad = await post('/api/submit', Buffer.from('definitely not compressed'), {
          'content-encoding': enc,
        });
        assert.equal(bad.statusCode, 400, `${enc}: ${bad.body}`);
        assert.equal(bad.json().code, 'INVALID_ENCODING');
      }
      const unknown = await post('/api/submit', JSON.stringify(dashEvent('b_enc', 1)), {
        'content-encoding': 'compress',
      });
      assert.equal(unknown.statusCode, 415);
      assert.equal(unknown.json().code, 'UNSUPPORTED_ENCODING');
      const xml = await post('/api/submit/batch', '<a/>', { 'content-type': 'application/xml' });
      assert.equal(xml.statusCode, 415);
      assert.equal(await count('b_enc'), 0);
    });
  });
}

test('a batch limit above the queue bound is refused at start-up, naming the variable', () => {
  assert.throws(
    () => configFrom({ INGEST_MAX_QUEUED_EVENTS: '100', INGEST_BATCH_MAX_EVENTS: '101' }),
    (err: unknown) => err instanceof ConfigError && err.variable === 'INGEST_BATCH_MAX_EVENTS',
  );
  assert.equal(
    configFrom({ INGEST_MAX_QUEUED_EVENTS: '100', INGEST_BATCH_MAX_EVENTS: '100' }).ingest.batchMaxEvents,
    100,
  );
});
