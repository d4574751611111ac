// The CMCD collector's HTTP API (POST/GET /api/cmcd[/:experiment_id]) through app.inject() on
// every store (an SQLite file, the MongoDB of MONGO_URL): bodies, request-mode data, replies,
// dedupe of retried reports, CORS preflights, 410/503. Reads back through GET /api/metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { configFrom } from '../../src/config/index.ts';
import { storeFixtures } from '../helpers/stores.ts';

const SESSION = [
  'cid="movie-1",e=ps,sf=d,sid="sess-1",sn=0,sta=s,ts=1764752400000,v=2',
  'br=(3000;v 128;a),e=bc,sid="sess-1",sn=1,ts=1764752400500,v=2',
  'e=ps,msd=812,sid="sess-1",sn=2,sta=p,ts=1764752400812,v=2',
  'bl=(0),bs,e=ps,sid="sess-1",sn=3,sta=r,ts=1764752410000,v=2',
  'bsd=(1500;v),e=ps,sid="sess-1",sn=4,sta=p,ts=1764752411500,v=2',
].join('\n');

for (const fixture of storeFixtures()) {
  describe(`CMCD collector on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;

    before(async () => {
      app = await buildApp(
        fixture.config({
          CMCD_CLOSED_EXPERIMENTS: 'closed-exp',
          CMCD_EXPERIMENT_KEY: 'com.example-experiment',
          BODY_LIMIT: '65536',
        }),
      );
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    const post = (url: string, payload: string, contentType = 'application/cmcd', headers = {}) =>
      app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType, ...headers } });
    const metrics = async (id: string) =>
      (await app.inject({ method: 'GET', url: `/api/metrics/${id}` })).json();

    test('an application/cmcd batch is stored as cmcd_<e> events mapped per the contract', async () => {
      const res = await post('/api/cmcd/cmcd-exp1', SESSION);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { status: 'success', stored: 5, duplicates: 0, rejected: [] });

      const body = await metrics('cmcd-exp1');
      assert.equal(body.count, 5);
      assert.deepEqual(
        body.metrics.map((m: { event_type: string }) => m.event_type),
        ['cmcd_ps', 'cmcd_bc', 'cmcd_ps', 'cmcd_ps', 'cmcd_ps'],
      );
      for (const m of body.metrics) {
        assert.equal(m.session_id, 'sess-1');
        assert.equal(m.video_id, 'movie-1', 'cid, remembered for the session');
        assert.equal(m.protocol, 'dash', 'sf=d, remembered for the session');
        assert.equal(m.experiment_id, 'cmcd-exp1');
      }
      const [start, bc, playing, stall, resumed] = body.metrics;
      assert.equal(start.timestamp, 1764752400);
      assert.equal(start.event_id, 'cmcd:sess-1:0:1764752400000');
      assert.deepEqual([bc.payload.br, bc.payload.br_v, bc.payload.br_a], [3000, 3000, 128]);
      assert.equal(playing.payload.msd, 812);
      assert.deepEqual([stall.payload.sta, stall.payload.bs, stall.payload.bl], ['r', true, 0]);
      assert.equal(resumed.payload.bsd, 1500);
    });

    test('the QoE summary of a collected CMCD session shows its startup, switches and stall', async () => {
      const lines = [
        'cid="movie-1",e=ps,sf=d,sid="q",sn=0,sta=s,ts=1764752400000,v=2',
        'br=(800;v 64;a),e=bc,sid="q",sn=1,ts=1764752400500,v=2',
        'e=ps,msd=812,sid="q",sn=2,sta=p,ts=1764752400812,v=2',
        'br=(2500;v 64;a),e=bc,sid="q",sn=3,ts=1764752405000,v=2',
        'bl=(0),bs,e=ps,sid="q",sn=4,sta=r,ts=1764752410000,v=2',
        'bsd=(1500;v),e=ps,sid="q",sn=5,sta=p,ts=1764752411500,v=2',
        'br=(800;v 64;a),e=bc,sid="q",sn=6,ts=1764752412000,v=2',
        'e=ps,sid="q",sn=7,sta=e,ts=1764752420000,v=2',
      ];
      assert.equal((await post('/api/cmcd/cmcd-qoe', lines.join('\n'))).json().stored, 8);
      const res = await app.inject({ method: 'GET', url: '/api/experiments/cmcd-qoe/qoe' });
      assert.equal(res.statusCode, 200, res.body);
      const [s] = res.json().sessions;
      assert.equal(s.session_id, 'q');
      assert.equal(s.protocol, 'dash');
      assert.equal(s.startup_time_s, 0.812, 'msd');
      assert.equal(s.stall_count, 1);
      assert.equal(s.stall_time_s, 1.5, 'bsd');
      assert.deepEqual(
        s.switches.map((w: { from_bps: number; to_bps: number }) => [w.from_bps, w.to_bps]),
        [
          [800_000, 2_500_000],
          [2_500_000, 800_000],
        ],
        'br in kbps, video entry',
      );
    });

    test('a retried report (same sid, sn, ts) is stored once', async () => {
      const first = await post('/api/cmcd/cmcd-retry', SESSION);
      assert.equal(first.json().stored, 5);
      const retry = await post('/api/cmcd/cmcd-retry', SESSION.split('\n').slice(3).join('\n'));
      assert.equal(retry.statusCode, 200);
      assert.deepEqual(retry.json(), { status: 'success', stored: 0, duplicates: 2, rejected: [] });
      assert.equal((await metrics('cmcd-retry')).count, 5);
    });

    test('text/cmcd, a charset parameter, text/plain and the JSON array form are accepted', async () => {
      const cases: Array<[string, string]> = [
        ['text/cmcd', 'e=t,sid="a",sn=0,ts=1764752400000,v=2'],
        ['application/cmcd; charset=utf-8', 'e=t,sid="b",sn=0,ts=1764752400000,v=2'],
        ['text/plain', 'e=t,sid="c",sn=0,ts=1764752400000,v=2'],
        [
          'application/json',
          JSON.stringify([{ e: 't', sid: 'd', sn: 0, ts: 1764752400000, v: 2, br: [900] }]),
        ],
        ['text/plain;charset=UTF-8', JSON.stringify([{ e: 't', sid: 'e', sn: 0, ts: 1764752400000 }])],
      ];
      for (const [type, payload] of cases) {
        const res = await post('/api/cmcd/cmcd-types', payload, type);
        assert.equal(res.statusCode, 200, `${type}: ${res.body}`);
        assert.equal(res.json().stored, 1, type);
      }
      const body = await metrics('cmcd-types');
      assert.deepEqual(body.metrics.map((m: { session_id: string }) => m.session_id).sort(), [
        'a',
        'b',
        'c',
        'd',
        'e',
      ]);
    });

    test('a gzip-compressed body is accepted', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/api/cmcd/cmcd-gzip',
        payload: gzipSync(SESSION),
        headers: { 'content-type': 'application/cmcd', 'content-encoding': 'gzip' },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().stored, 5);
    });

    test('partial garbage: good lines stored, bad ones listed with line number and reason', async () => {
      const payload = [
        'e=ps,sid="g",sn=0,sta=s,ts=1764752400000,v=2',
        'not (( cmcd',
        'e=ps,sid="g",sn=1,sta=p,ts=-,v=2',
        'e=t,sid="g",sn=2,ts=1764752401000,v=2,zz=1',
      ].join('\n');
      const res = await post('/api/cmcd/cmcd-partial', payload);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.stored, 2);
      assert.deepEqual(
        body.rejected.map((r: { line: number; code: string }) => [r.line, r.code]),
        [
          [2, 'CMCD_SYNTAX'],
          [3, 'CMCD_SYNTAX'],
        ],
      );
      assert.equal(body.warnings[0].line, 4);
      assert.ok(body.warnings[0].details.some((d: { path: string }) => d.path === 'zz'));
      assert.equal((await metrics('cmcd-partial')).count, 2);
    });

    test('a wholly bad request is a 400 in the error shape, and nothing is stored', async () => {
      const garbage = await post('/api/cmcd/cmcd-bad', 'hello world\n(((');
      assert.equal(garbage.statusCode, 400);
      const body = garbage.json();
      assert.equal(body.status, 'error');
      assert.equal(body.code, 'CMCD_NO_REPORTS');
      assert.deepEqual(
        body.details.map((d: { path: string }) => d.path),
        ['line 1', 'line 2'],
      );

      const empty = await post('/api/cmcd/cmcd-bad', '');
      assert.equal(empty.statusCode, 400);
      assert.equal(empty.json().code, 'EMPTY_BODY');

      const badJson = await post('/api/cmcd/cmcd-bad', '[{"e":', 'application/json');
      assert.equal(badJson.json().code, 'INVALID_JSON');

      const badId = await post('/api/cmcd/bad$id', 'e=t,ts=1,v=2');
      assert.equal(badId.statusCode, 400);
      assert.equal(badId.json().code, 'INVALID_EXPERIMENT_ID');

      const xml = await post('/api/cmcd/cmcd-bad', '<x/>', 'application/xml');
      assert.equal(xml.statusCode, 415);
      assert.equal(xml.json().code, 'UNSUPPORTED_MEDIA_TYPE');

      assert.equal((await metrics('cmcd-bad')).count, 0);
    });

    test('CMCD v1 in a query argument or CMCD-* headers, on GET or POST', async () => {
      const q = encodeURIComponent(
        'bl=21300,br=3200,bs,cid="faec5fc2-ac30-11eabb37-0242ac130002",d=4004,mtp=25400,ot=v,sf=h,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",su',
      );
      const get = await app.inject({ method: 'GET', url: `/api/cmcd/cmcd-v1?CMCD=${q}` });
      assert.equal(get.statusCode, 200, get.body);
      assert.equal(get.json().stored, 1);

      const headers = await app.inject({
        method: 'GET',
        url: '/api/cmcd/cmcd-v1',
        headers: {
          'CMCD-Object': 'br=3200,d=4004,ot=v',
          'CMCD-Request': 'bl=21300,mtp=25400,su',
          'CMCD-Session': 'cid="faec5fc2",sf=h,sid="6e2fb550"',
          'CMCD-Status': 'bs',
        },
      });
      assert.equal(headers.statusCode, 200, headers.body);

      const postWithHeaders = await app.inject({
        method: 'POST',
        url: '/api/cmcd/cmcd-v1',
        headers: { 'CMCD-Object': 'br=800,ot=a', 'CMCD-Session': 'sid="6e2fb550"' },
      });
      assert.equal(postWithHeaders.statusCode, 200, postWithHeaders.body);

      const body = await metrics('cmcd-v1');
      assert.equal(body.count, 3);
      for (const m of body.metrics) {
        assert.equal(m.event_type, 'cmcd_request');
        assert.equal(m.timestamp_source, 'server');
      }
      const [a, b] = body.metrics;
      assert.deepEqual([a.protocol, a.payload.br, a.payload.bl, a.payload.su], ['hls', 3200, 21300, true]);
      assert.deepEqual([b.video_id, b.payload.bs], ['faec5fc2', true]);

      const badHeader = await app.inject({
        method: 'GET',
        url: '/api/cmcd/cmcd-v1',
        headers: { 'CMCD-Object': 'br=(((' },
      });
      assert.equal(badHeader.statusCode, 400);
      assert.equal(badHeader.json().details[0].path, 'headers');

      const nothing = await app.inject({ method: 'GET', url: '/api/cmcd/cmcd-v1' });
      assert.equal(nothing.statusCode, 400);
    });

    test('POST /api/cmcd takes the experiment from the configured report key', async () => {
      const payload = [
        'com.example-experiment="cmcd-key-a",e=t,sid="k",sn=0,ts=1764752400000,v=2',
        'com.example-experiment="cmcd-key-b",e=t,sid="k2",sn=0,ts=1764752400000,v=2',
        'e=t,sid="k3",sn=0,ts=1764752400000,v=2',
        'com.example-experiment="no way",e=t,sid="k4",sn=0,ts=1764752400000,v=2',
      ].join('\n');
      const res = await post('/api/cmcd', payload);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.stored, 2);
      assert.deepEqual(
        body.rejected.map((r: { line: number; code: string }) => [r.line, r.code]),
        [
          [3, 'CMCD_MISSING_EXPERIMENT'],
          [4, 'CMCD_MISSING_EXPERIMENT'],
        ],
      );
      const [a] = (await metrics('cmcd-key-a')).metrics;
      assert.equal(a.payload['com_example-experiment'], 'cmcd-key-a');
      assert.equal((await metrics('cmcd-key-b')).count, 1);

      const none = await post('/api/cmcd', 'e=t,ts=1764752400000,v=2');
      assert.equal(none.statusCode, 400);
      assert.equal(none.json().code, 'CMCD_MISSING_EXPERIMENT');
    });

    test('a closed experiment answers 410 Gone (the player stops reporting), by path or by key', async () => {
      const res = await post('/api/cmcd/closed-exp', 'e=t,ts=1764752400000,v=2');
      assert.equal(res.statusCode, 410);
      assert.equal(res.json().code, 'EXPERIMENT_CLOSED');
      const byKey = await post('/api/cmcd', 'com.example-experiment="closed-exp",e=t,ts=1764752400000,v=2');
      assert.equal(byKey.statusCode, 410);
      assert.equal((await metrics('closed-exp')).count, 0);
    });

    test('CORS preflight for a cross-origin application/cmcd POST and CMCD headers passes', async () => {
      const res = await app.inject({
        method: 'OPTIONS',
        url: '/api/cmcd/cmcd-cors',
        headers: {
          origin: 'http://player.example:8080',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,cmcd-request,cmcd-session',
        },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      for (const h of ['content-type', 'cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session']) {
        assert.ok(allowed.includes(h), `${h} in ${allowed}`);
      }
      const post2 = await post('/api/cmcd/cmcd-cors', 'e=t,ts=1764752400000,v=2', 'application/cmcd', {
        origin: 'http://player.example:8080',
      });
      assert.equal(post2.headers['access-control-allow-origin'], '*');
    });
  });
}

describe('CMCD collector under pressure', () => {
  const fixture = storeFixtures()[0];
  let app: FastifyInstance | undefined;
  after(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  test('more reports than the ingest queue can ever hold: 413, no Retry-After, nothing stored', async () => {
    assert.ok(fixture);
    app = await buildApp(fixture.config({ INGEST_MAX_QUEUED_EVENTS: '2', INGEST_BATCH_MAX_EVENTS: '2' }));
    const res = await app.inject({
      method: 'POST',
      url: '/api/cmcd/cmcd-busy',
      payload: SESSION,
      headers: { 'content-type': 'application/cmcd' },
    });
    // Retrying could never succeed, so this is not a 503 (players would retry it forever).
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'TOO_MANY_REPORTS');
    assert.match(res.json().message, /at most 2 per request/);
    assert.equal(res.headers['retry-after'], undefined);
    const read = await app.inject({ method: 'GET', url: '/api/metrics/cmcd-busy' });
    assert.equal(read.json().count, 0);
  });

  test('store unreachable: 503 STORE_UNAVAILABLE with Retry-After', async () => {
    const down = await buildApp(
      configFrom({ STORAGE: 'mongodb', MONGO_URL: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200' }),
    );
    try {
      const res = await down.inject({
        method: 'POST',
        url: '/api/cmcd/cmcd-down',
        payload: 'e=t,ts=1764752400000,v=2',
        headers: { 'content-type': 'application/cmcd' },
      });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'STORE_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) > 0);
    } finally {
      await down.close();
    }
  });
});
