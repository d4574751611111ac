// GET /livez and /readyz through app.inject() on every store, and /readyz during a real MongoDB
// outage (a TCP proxy in front of MONGO_URL is shut and reopened): 503 NOT_READY in the error
// shape while /livez stays 200, ready again once the database is back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { MONGO_URL, mongoSkip } from '../helpers/env.ts';
import { mongoFixture, mongoUrlWith, storeFixtures } from '../helpers/stores.ts';
import { hostPortOf, TcpProxy, viaProxy } from '../helpers/tcp-proxy.ts';
import { scaled, waitUntil } from '../helpers/wait.ts';

for (const fixture of storeFixtures()) {
  describe(`probes on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    before(async () => {
      app = await buildApp(fixture.config());
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    test('/livez and /readyz answer 200 while the store works; /api/health is unchanged', async () => {
      const live = await app.inject({ method: 'GET', url: '/livez' });
      assert.equal(live.statusCode, 200);
      assert.deepEqual(live.json(), { status: 'ok' });
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: 'ready', storage: fixture.name });
      const health = await app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(health.json().service, 'stats_server');
    });
  });
}

describe('/readyz during a MongoDB outage', { skip: mongoSkip }, () => {
  const fixture = mongoFixture();
  let proxy: TcpProxy;
  let app: FastifyInstance;
  before(async () => {
    const { host, port } = hostPortOf(MONGO_URL as string);
    proxy = new TcpProxy(host, port);
    await proxy.up();
    app = await buildApp(
      fixture.config({
        MONGO_URL: mongoUrlWith(viaProxy(MONGO_URL as string, proxy.port), {
          serverSelectionTimeoutMS: scaled(500),
        }),
      }),
    );
  });
  after(async () => {
    await app?.close();
    await proxy?.down();
    await fixture.cleanup();
  });

  test('503 NOT_READY while unreachable, live all along, ready again after', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    await proxy.down();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(down.statusCode, 503);
    const body = down.json();
    assert.equal(body.status, 'error');
    assert.equal(body.code, 'NOT_READY');
    assert.match(body.message, /mongodb store/);
    assert.ok(down.headers['retry-after']);
    assert.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200, 'still live');

    await proxy.up();
    await waitUntil(
      () => app.inject({ method: 'GET', url: '/readyz' }),
      (res) => res.statusCode === 200,
      {
        what: '/readyz to answer 200 once MongoDB is back',
        timeoutMs: 10_000,
        intervalMs: 200,
        show: (res) => `${res.statusCode} ${res.body}`,
      },
    );
  });
});
