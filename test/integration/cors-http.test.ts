// Browser-style clients over a real socket: the testbed's player page (served from another
// origin) sends an OPTIONS preflight and then POSTs application/json with an Origin header.
// Starts the app on a loopback port with an SQLite store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
const ORIGIN = 'http://media-server.local:8080';

async function listen(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; base: string }> {
  const app = await buildApp(fixture.config(env));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: address };
}

describe('CORS with any origin (default)', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    ({ app, base } = await listen());
  });
  after(async () => {
    await app.close();
  });

  test('preflight for a JSON POST is answered and allows the origin, method and header', async () => {
    const res = await fetch(`${base}/api/submit`, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.ok(res.status === 204 || res.status === 200, `status ${res.status}`);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match((res.headers.get('access-control-allow-headers') ?? '').toLowerCase(), /content-type/);
  });

  test('the POST itself, and errors, carry Access-Control-Allow-Origin', async () => {
    const ok = await fetch(`${base}/api/submit`, {
      method: 'POST',
      headers: { Origin: ORIGIN, 'Content-Type': 'application/json' },
      body: JSON.stringify(dashEvent('exp_cors', 1)),
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'success' });
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');

    const bad = await fetch(`${base}/api/submit`, {
      method: 'POST',
      headers: { Origin: ORIGIN, 'Content-Type': 'application/json' },
      body: '{"broken":',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('access-control-allow-origin'), '*', 'a browser can read the error');
    assert.equal((await bad.json()).code, 'INVALID_JSON');

    const read = await fetch(`${base}/api/metrics/exp_cors`, { headers: { Origin: ORIGIN } });
    assert.equal(read.headers.get('access-control-allow-origin'), '*');
    assert.equal((await read.json()).count, 1);
  });
});

describe('CORS restricted to configured origins', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    ({ app, base } = await listen({ CORS_ORIGINS: ORIGIN }));
  });
  after(async () => {
    await app.close();
    await fixture.cleanup();
  });

  test('a listed origin is allowed, another is not', async () => {
    const allowed = await fetch(`${base}/api/health`, { headers: { Origin: ORIGIN } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), ORIGIN);
    const other = await fetch(`${base}/api/health`, { headers: { Origin: 'http://evil.test' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});
