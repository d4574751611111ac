// GET /metrics (Prometheus) through app.inject() on every store: after real ingest the counters
// move as they should (stored, duplicate, rejected by code, requests by route and status, group
// sizes, commit latency, queue depth, process defaults), and METRICS_TOKEN guards the endpoint.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { dashEvent } from './helpers/events.ts';
import { storeFixtures } from './helpers/stores.ts';

/** The value of one sample line (`name{labels} value`), 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

for (const fixture of storeFixtures()) {
  describe(`/metrics on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    before(async () => {
      app = await buildApp(fixture.config({ INGEST_BATCH_MAX_EVENTS: '10' }));
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    const scrape = async () => {
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
      return res.body;
    };
    const submit = (payload: object) => app.inject({ method: 'POST', url: '/api/submit', payload });
    const batch = (payload: object) => app.inject({ method: 'POST', url: '/api/submit/batch', payload });

    test('ingest, rejections and requests move the counters', async () => {
      const before = await scrape();
      const stored0 = sample(before, 'stats_ingest_events_total', { result: 'stored' });
      const dup0 = sample(before, 'stats_ingest_events_total', { result: 'duplicate' });

      for (let i = 0; i < 3; i++) {
        assert.equal((await submit(dashEvent('m_exp', i, { event_id: `e${i}` }))).statusCode, 200);
      }
      // A retry of e0 is a duplicate; the batch stores 2, repeats e1 and rejects one event.
      assert.equal((await submit(dashEvent('m_exp', 0, { event_id: 'e0' }))).statusCode, 200);
      const b = await batch([
        dashEvent('m_exp', 10, { event_id: 'b1' }),
        dashEvent('m_exp', 11, { event_id: 'b2' }),
        dashEvent('m_exp', 1, { event_id: 'e1' }),
        { experiment_id: 'm_exp', timestamp: 'soon' },
      ]);
      assert.equal(b.statusCode, 200);
      assert.equal(b.json().rejected.length, 1);
      // Requests refused whole: an invalid event and a batch over INGEST_BATCH_MAX_EVENTS.
      assert.equal((await submit({ experiment_id: 'bad id!', timestamp: 1 })).statusCode, 400);
      const big = Array.from({ length: 11 }, (_, i) => dashEvent('m_exp', 100 + i));
      assert.equal((await batch(big)).statusCode, 413);
      const notJson = await app.inject({
        method: 'POST',
        url: '/api/submit',
        payload: '{"experiment_id":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(notJson.statusCode, 400);
      assert.equal((await app.inject({ method: 'GET', url: '/no/such/route' })).statusCode, 404);

      const text = await scrape();
      assert.equal(sample(text, 'stats_ingest_events_total', { result: 'stored' }) - stored0, 5);
      assert.equal(sample(text, 'stats_ingest_events_total', { result: 'duplicate' }) - dup0, 2);
      const rejectedCode = (b.json().rejected[0] as { code: string }).code;
      assert.equal(sample(text, 'stats_ingest_rejected_total', { code: rejectedCode }) >= 1, true);
      assert.equal(sample(text, 'stats_ingest_rejected_total', { code: 'INVALID_EXPERIMENT_ID' }), 1);
      assert.equal(sample(text, 'stats_ingest_rejected_total', { code: 'TOO_MANY_EVENTS' }), 1);
      assert.equal(sample(text, 'stats_ingest_rejected_total', { code: 'INVALID_JSON' }), 1);
      assert.equal(
        sample(text, 'stats_http_requests_total', { method: 'POST', route: '/api/submit', status: '200' }),
        4,
      );
      assert.equal(
        sample(text, 'stats_http_requests_total', { route: '/api/submit/batch', status: '413' }),
        1,
      );
      assert.equal(sample(text, 'stats_http_requests_total', { route: '(unmatched)', status: '404' }), 1);
      assert.equal(
        sample(text, 'stats_http_request_duration_seconds_count', { method: 'POST', route: '/api/submit' }),
        6,
      );
      // Five writes (four single events, one batch of three valid events), all committed.
      assert.equal(sample(text, 'stats_ingest_group_events_count'), 5);
      assert.equal(sample(text, 'stats_ingest_group_events_sum'), 7);
      assert.equal(sample(text, 'stats_ingest_commit_duration_seconds_count', { outcome: 'committed' }), 5);
      assert.equal(sample(text, 'stats_ingest_queue_events'), 0, 'nothing waits once all are answered');
      assert.equal(sample(text, 'stats_store_errors_total', { operation: 'write' }), 0);
      // The process defaults are there too.
      assert.ok(sample(text, 'process_cpu_user_seconds_total') > 0);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    });

    test('every metric the docs and the Grafana dashboard name is exported', async () => {
      const text = await scrape();
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      for (const file of ['docs/grafana-dashboard.json', 'docs/operations-metrics.md', 'docs/scaling.md']) {
        const named = fs.readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
        for (const [name] of named.matchAll(/\b(?:stats|process|nodejs)_[a-z0-9_]+[a-z0-9]/g)) {
          const base = name.replace(/_(bucket|sum|count)$/, '');
          assert.ok(exported.has(name) || exported.has(base), `${file} names ${name}, which /metrics lacks`);
        }
      }
    });
  });
}

describe('/metrics with METRICS_TOKEN', () => {
  const [fixture] = storeFixtures();
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(fixture!.config({ METRICS_TOKEN: 's3cret-metrics' }));
  });
  after(async () => {
    await app?.close();
    await fixture!.cleanup();
  });

  test('needs the bearer token', async () => {
    const none = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'UNAUTHORIZED');
    assert.doesNotMatch(none.body, /stats_/);
    const wrong = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer s3cret-metricz' },
    });
    assert.equal(wrong.statusCode, 401);
    const right = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer s3cret-metrics' },
    });
    assert.equal(right.statusCode, 200);
    assert.match(right.body, /stats_http_requests_total/);
  });
});
