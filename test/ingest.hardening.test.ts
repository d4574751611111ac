// Hostile and mistaken input on every ingest path (submit, batch JSON/NDJSON, CMCD lines/JSON)
// and strict query numbers, through app.inject() on every store (SQLite file, MongoDB of
// MONGO_URL): non-finite numbers, implausible timestamps, oversize events, report caps, CMCD
// JSON parity with /api/submit, readable enum and media-type errors. Starts the app per store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { decodeRequest } from '../src/cmcd/collect.ts';
import type { EventDoc } from '../src/events/schema.ts';
import { GroupCommitter } from '../src/ingest/group-commit.ts';
import { dashEvent } from './helpers/events.ts';
import { openStore, sqliteFixture, storeFixtures } from './helpers/stores.ts';

const NOW_S = () => Math.floor(Date.now() / 1000);
/** A JSON text of an event whose `timestamp` (or a payload value) is written as `raw`. */
const rawEvent = (exp: string, ts: string, payload = '{}') =>
  `{"experiment_id":"${exp}","timestamp":${ts},"event_type":"x","protocol":"dash","payload":${payload}}`;

for (const fixture of storeFixtures()) {
  describe(`ingest hardening on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    before(async () => {
      app = await buildApp(fixture.config({ TIMESTAMP_CHECK: 'on', INGEST_MAX_EVENT_BYTES: '65536' }));
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    const post = (url: string, payload: string, contentType = 'application/json') =>
      app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });
    const count = async (exp: string) =>
      (await app.inject({ method: 'GET', url: `/api/metrics/${exp}` })).json().count as number;

    test('non-finite numbers are a 400 naming the field on submit (text/plain beacon too)', async () => {
      const t = String(NOW_S());
      for (const [body, path] of [
        [rawEvent('nf', '1e400'), '/timestamp'],
        [rawEvent('nf', '-1e999'), '/timestamp'],
        [rawEvent('nf', t, '{"a":{"b":1e400}}'), '/payload/a/b'],
        [rawEvent('nf', t, '{"list":[1,2,-1e400]}'), '/payload/list/2'],
        [`{"extra":1e999,${rawEvent('nf', t).slice(1)}`, '/extra'],
      ] as const) {
        for (const type of ['application/json', 'text/plain;charset=UTF-8']) {
          const res = await post('/api/submit', body, type);
          assert.equal(res.statusCode, 400, body);
          const err = res.json();
          assert.equal(err.status, 'error');
          assert.equal(err.code, 'VALIDATION_FAILED');
          assert.ok(
            err.details.some(
              (d: { path: string; message: string }) => d.path === path && /finite/.test(d.message),
            ),
            `${body}: ${res.body}`,
          );
        }
      }
      assert.equal(await count('nf'), 0);
    });

    test('a batch rejects only its non-finite events, by index (JSON and NDJSON)', async () => {
      const t = String(NOW_S());
      const arr = `[${rawEvent('nfb', t)},${rawEvent('nfb', '1e400')},${rawEvent('nfb', t, '{"x":1e400}')}]`;
      const res = await post('/api/submit/batch', arr);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.stored, 1);
      assert.deepEqual(
        body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [
          [1, 'VALIDATION_FAILED'],
          [2, 'VALIDATION_FAILED'],
        ],
      );
      assert.match(body.rejected[0].message, /\/timestamp: must be a finite number/);
      assert.equal(body.rejected[1].details[0].path, '/payload/x');

      const nd = [rawEvent('nfb', t), rawEvent('nfb', '-1e999')].join('\n');
      const r2 = await post('/api/submit/batch', nd, 'application/x-ndjson');
      assert.equal(r2.json().stored, 1);
      assert.equal(r2.json().rejected[0].index, 1);
      assert.equal(await count('nfb'), 2);
    });

    test('CMCD JSON: a non-finite value rejects only its report', async () => {
      const ts = Date.now();
      const res = await post(
        '/api/cmcd/nfc',
        `[{"e":"ps","sid":"s","sn":1,"ts":${ts},"v":2},{"e":"ps","sid":"s","sn":2,"ts":${ts},"v":2,"com.x-n":1e400},{"e":"ps","sid":"s","sn":3,"ts":1e400,"v":2}]`,
      );
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.stored, 1);
      assert.deepEqual(
        body.rejected.map((r: { index: number }) => r.index),
        [1, 2],
      );
      assert.match(body.rejected[0].message, /com_x-n: must be a finite number/);
      assert.match(body.rejected[1].message, /"ts".*finite/);
    });

    test('timestamps that cannot be Unix seconds: 400 saying what is wrong', async () => {
      const now = NOW_S();
      const cases: [number, RegExp][] = [
        [now * 1000 + 123, /looks like milliseconds: divide by 1000/],
        [1796096950123, /looks like milliseconds: divide by 1000/],
        [now * 1_000_000, /looks like microseconds: divide by 1000000/],
        [now + 3 * 86_400, /more than 86400 s ahead of the server clock/],
        [946_684_799, /before 2000-01-01T00:00:00Z/],
        [12.5, /TIMESTAMP_CHECK=off/],
      ];
      for (const [ts, why] of cases) {
        const res = await post('/api/submit', JSON.stringify(dashEvent('tsx', ts)));
        assert.equal(res.statusCode, 400, `${ts}: ${res.body}`);
        assert.equal(res.json().code, 'IMPLAUSIBLE_TIMESTAMP');
        assert.match(res.json().message, why);
        assert.equal(res.json().details[0].path, '/timestamp');
      }
      // A batch rejects the event, not the request.
      const batch = await post(
        '/api/submit/batch',
        JSON.stringify([dashEvent('tsx', now), dashEvent('tsx', now * 1000)]),
      );
      assert.equal(batch.json().stored, 1);
      assert.equal(batch.json().rejected[0].code, 'IMPLAUSIBLE_TIMESTAMP');
      assert.equal(batch.json().rejected[0].index, 1);
      // Within a day ahead (a skewed clock) and plain now are fine.
      assert.equal((await post('/api/submit', JSON.stringify(dashEvent('tsx', now + 3600)))).statusCode, 200);
      assert.equal(await count('tsx'), 2);
    });

    test('CMCD ts gets the same plausibility check, in its own unit (milliseconds)', async () => {
      const ms = Date.now();
      const lines = [
        `e=ps,sid="s",sn=1,ts=${ms},v=2`,
        `e=ps,sid="s",sn=2,ts=${Math.floor(ms / 1000)},v=2`,
        'e=ps,sid="s",sn=3,v=2',
      ].join('\n');
      const res = await post('/api/cmcd/tsc', lines, 'application/cmcd');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.stored, 2, 'the good report and the one without ts (server time)');
      assert.deepEqual(
        body.rejected.map((r: { line: number; code: string }) => [r.line, r.code]),
        [[2, 'IMPLAUSIBLE_TIMESTAMP']],
      );
      assert.match(body.rejected[0].message, /^ts \d+ looks like seconds: multiply by 1000/);
      // Microseconds do not fit an RFC 8941 integer; the JSON form can carry them.
      const json = await post('/api/cmcd/tsc', JSON.stringify([{ e: 'ps', v: 2, ts: ms * 1000 }]));
      assert.equal(json.statusCode, 400, json.body);
      assert.equal(json.json().code, 'IMPLAUSIBLE_TIMESTAMP');
      assert.match(
        json.json().message,
        /^ts \d+ looks like microseconds: divide by 1000 \(Unix time in milliseconds/,
      );
    });

    test('an event over INGEST_MAX_EVENT_BYTES is a 413 (batch: that event, by index)', async () => {
      const big = dashEvent('fat', NOW_S(), { payload: { blob: 'x'.repeat(70_000) } });
      const res = await post('/api/submit', JSON.stringify(big));
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'EVENT_TOO_LARGE');
      assert.match(
        res.json().message,
        /event_type "fragment_loading_completed".*65536 bytes.*INGEST_MAX_EVENT_BYTES/,
      );
      // Many small values count too, not just one long string.
      const wide = dashEvent('fat', NOW_S(), {
        payload: { list: Array.from({ length: 20_000 }, (_, i) => i) },
      });
      assert.equal((await post('/api/submit', JSON.stringify(wide))).statusCode, 413);

      const batch = await post('/api/submit/batch', JSON.stringify([dashEvent('fat', NOW_S()), big]));
      assert.equal(batch.statusCode, 200);
      assert.equal(batch.json().stored, 1);
      assert.deepEqual(
        batch.json().rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [[1, 'EVENT_TOO_LARGE']],
      );
      // CMCD: the report is refused on its own; alone it is the 413.
      const cmcd = await post(
        '/api/cmcd/fat',
        `e=ps,sid="s",sn=1,v=2,com.x-blob="${'y'.repeat(70_000)}"`,
        'application/cmcd',
      );
      assert.equal(cmcd.statusCode, 413, cmcd.body);
      assert.equal(cmcd.json().code, 'EVENT_TOO_LARGE');
      assert.equal(await count('fat'), 1);
    });

    test('CMCD JSON parity: bad keys and deep nesting reject only their report', async () => {
      const ts = Date.now();
      const good = `{"e":"ps","sid":"s","sn":1,"ts":${ts},"v":2}`;
      const res = await post(
        '/api/cmcd/parity',
        `[${good},{"e":"ps","$x":1,"v":2,"ts":${ts}},{"e":"ps","v":2,"ts":${ts},"com.x-o":{"a.b":1}},{"e":"ps","v":2,"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}]`,
      );
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.stored, 1);
      assert.deepEqual(
        body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
        [
          [1, 'INVALID_FIELD_NAME'],
          [2, 'INVALID_FIELD_NAME'],
          [3, 'CMCD_INVALID_REPORT'],
        ],
      );
      assert.match(body.rejected[2].message, /nested deeper than 32 levels/);

      // Only a deeply nested report: 400, never 500.
      const deep = await post(
        '/api/cmcd/parity',
        `[{"e":"ps","v":2,"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}]`,
      );
      assert.equal(deep.statusCode, 400);
      assert.equal(deep.json().code, 'CMCD_NO_REPORTS');

      // Prototype keys: refused as /api/submit refuses them (the whole body is not acceptable JSON).
      for (const key of ['"constructor":{"prototype":{"polluted":1}}', '"__proto__":{"polluted":1}']) {
        const r = await post('/api/cmcd/parity', `[${good},{"e":"ps","v":2,${key}}]`);
        assert.equal(r.statusCode, 400, r.body);
        assert.equal(r.json().code, 'INVALID_JSON');
        const submit = await post('/api/submit', `{${key},${rawEvent('parity', String(NOW_S())).slice(1)}`);
        assert.equal(submit.statusCode, 400, 'the same key on /api/submit');
        assert.equal(submit.json().code, 'INVALID_JSON');
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(await count('parity'), 1);
    });

    test('CMCD reports per request are capped (413 before decoding), gzip bombs of lines too', async () => {
      const many = 'e=t\n'.repeat(1001);
      const res = await post('/api/cmcd/amp', many, 'application/cmcd');
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'TOO_MANY_REPORTS');
      assert.match(res.json().message, /1001 CMCD reports.*at most 1000.*CMCD_MAX_REPORTS/);
      assert.equal(res.headers['retry-after'], undefined);

      const json = await post(
        '/api/cmcd/amp',
        JSON.stringify(Array.from({ length: 1001 }, () => ({ e: 't', v: 2 }))),
      );
      assert.equal(json.statusCode, 413);

      // 95,000 lines in ~400 bytes of gzip (the amplification the audit found): 413, not 95,000 rows.
      const gz = gzipSync(Buffer.from('e=t\n'.repeat(95_000)), { level: 9 });
      const bomb = await app.inject({
        method: 'POST',
        url: '/api/cmcd/amp',
        payload: gz,
        headers: { 'content-type': 'application/cmcd', 'content-encoding': 'gzip' },
      });
      assert.equal(bomb.statusCode, 413, bomb.body);
      assert.equal(bomb.json().code, 'TOO_MANY_REPORTS');
      assert.equal(await count('amp'), 0);
    });

    test('query numbers are decimal only; non-finite and hex are 400 naming the parameter', async () => {
      await post('/api/submit', JSON.stringify(dashEvent('q', NOW_S())));
      for (const [q, param] of [
        ['start_time=0x10', 'start_time'],
        ['start_time=%20', 'start_time'],
        ['end_time=1e400', 'end_time'],
        ['end_time=Infinity', 'end_time'],
        ['limit=0x10', 'limit'],
        ['start_time=1_000', 'start_time'],
      ]) {
        const res = await app.inject({ method: 'GET', url: `/api/metrics/q?${q}` });
        assert.equal(res.statusCode, 400, q);
        assert.equal(res.json().code, 'INVALID_QUERY');
        assert.equal(res.json().details[0].path, `querystring.${param}`, q);
        assert.match(res.json().message, /decimal number/);
      }
      for (const q of ['start_time=0', 'start_time=1.5e9', 'end_time=-1', 'limit=10', 'start_time=.5']) {
        assert.equal((await app.inject({ method: 'GET', url: `/api/metrics/q?${q}` })).statusCode, 200, q);
      }
    });

    test('enum errors list the allowed values; 415 lists the accepted types', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/metrics/q?format=xml' });
      assert.equal(res.statusCode, 400);
      assert.equal(
        res.json().message,
        'Invalid querystring: querystring.format: must be one of json, ndjson, csv',
      );
      assert.deepEqual(res.json().details, [
        { path: 'querystring.format', message: 'must be one of json, ndjson, csv' },
      ]);

      const metric = await app.inject({ method: 'GET', url: '/api/experiments/q/timeseries?metric=nope' });
      assert.equal(metric.statusCode, 400);
      assert.match(metric.json().message, /querystring\.metric: must be one of bitrate, buffer, /);
      assert.doesNotMatch(metric.json().message, /constant|anyOf/);

      const xml = await post('/api/submit', '<event/>', 'application/xml');
      assert.equal(xml.statusCode, 415);
      assert.equal(xml.json().code, 'UNSUPPORTED_MEDIA_TYPE');
      assert.match(
        xml.json().message,
        /"application\/xml" is not accepted here; send application\/json, text\/plain$/,
      );
      const batch = await post('/api/submit/batch', 'x', 'application/xml');
      assert.match(batch.json().message, /application\/x-ndjson/);
      const cmcd = await post('/api/cmcd/q', 'x', 'image/png');
      assert.equal(cmcd.statusCode, 415);
      assert.match(cmcd.json().message, /application\/cmcd, text\/cmcd/);
    });
  });
}

describe('ingest limits below the routes', () => {
  const fixture = sqliteFixture();
  after(() => fixture.cleanup());

  test('a request larger than the whole ingest queue is a 413, never 503 + Retry-After', async () => {
    const store = await openStore(fixture.config());
    after(() => store.close());
    const gc = new GroupCommitter(store, {
      enabled: true,
      maxBatchEvents: 10,
      maxDelayMs: 0,
      maxQueuedEvents: 5,
    });
    const docs = Array.from({ length: 6 }, () => ({}) as EventDoc);
    await assert.rejects(
      gc.submit(docs),
      (err: { code: string; statusCode: number; retryAfter?: number }) => {
        assert.equal(err.code, 'TOO_MANY_EVENTS');
        assert.equal(err.statusCode, 413);
        assert.equal(err.retryAfter, undefined);
        return true;
      },
    );
  });

  test('decoding 150,000 CMCD lines does not overflow the stack (no spread into push)', () => {
    const { reports } = decodeRequest({ body: 'e=t\n'.repeat(150_000), query: undefined, headers: {} });
    assert.equal(reports.length, 150_000);
  });
});
