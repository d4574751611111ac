// MongoDB outage: the server starts while MongoDB is unreachable, answers 503 on health and
// submit without crashing, and recovers when MongoDB comes back. The outage is real: a TCP
// proxy in front of the test MongoDB (MONGO_URL) is shut and reopened.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { MONGO_URL, mongoSkip } from '../helpers/env.ts';
import { dashEvent } from '../helpers/events.ts';
import { mongoFixture, mongoUrlWith } from '../helpers/stores.ts';
import { hostPortOf, TcpProxy, viaProxy } from '../helpers/tcp-proxy.ts';
import { scaled, waitUntil } from '../helpers/wait.ts';

const fixture = mongoFixture();
let proxy: TcpProxy;
let app: FastifyInstance;

before(async () => {
  if (mongoSkip || !MONGO_URL) return;
  const { host, port } = hostPortOf(MONGO_URL);
  proxy = new TcpProxy(host, port);
  await proxy.up();
  await proxy.down(); // start with the database unreachable
  const config = fixture.config({
    MONGO_URL: mongoUrlWith(viaProxy(MONGO_URL, proxy.port), { serverSelectionTimeoutMS: scaled(500) }),
  });
  app = await buildApp(config);
});

after(async () => {
  await app?.close();
  await proxy?.down();
  await fixture.cleanup();
});

test('503 while MongoDB is down, service again once it is back', { skip: mongoSkip }, async () => {
  const health = await app.inject({ method: 'GET', url: '/api/health' });
  assert.equal(health.statusCode, 503);
  const h = health.json();
  assert.equal(h.status, 'unhealthy');
  assert.equal(h.mongodb, 'disconnected');
  assert.equal(h.service, 'stats_server');

  const submit = await app.inject({
    method: 'POST',
    url: '/api/submit',
    payload: dashEvent('exp_outage', 1),
  });
  assert.equal(submit.statusCode, 503);
  const err = submit.json();
  assert.equal(err.code, 'STORE_UNAVAILABLE');
  assert.ok(submit.headers['retry-after'], 'Retry-After tells the player when to retry');
  assert.doesNotMatch(submit.body, /at .*\.(ts|js):\d+/, 'no stack trace in the response');

  const read = await app.inject({ method: 'GET', url: '/api/metrics/exp_outage' });
  assert.equal(read.statusCode, 503);

  await proxy.up();
  await waitUntil(
    () => app.inject({ method: 'GET', url: '/api/health' }),
    (res) => res.statusCode === 200,
    {
      what: 'health to recover after MongoDB returns',
      timeoutMs: 10_000,
      intervalMs: 200,
      show: (res) => `${res.statusCode} ${res.body}`,
    },
  );
  const again = await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('exp_outage', 2) });
  assert.equal(again.statusCode, 200);
  const body = (await app.inject({ method: 'GET', url: '/api/metrics/exp_outage' })).json();
  assert.equal(body.count, 1, 'only the event acknowledged with 200 is stored');
  assert.equal(body.metrics[0].timestamp, 2);

  // And a second outage after a working connection behaves the same.
  await proxy.down();
  const down2 = await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('exp_outage', 3) });
  assert.equal(down2.statusCode, 503);
  await proxy.up();
});
