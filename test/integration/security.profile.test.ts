// Access control: the default open profile (no credentials, as on a lab LAN) and
// SECURITY_PROFILE=public (ingest keys in a header or the URL, the read token on data routes,
// the admin token for deletes, the Origin allow-list, per-IP and per-key rate limits, security
// headers, credentials never logged), and the configuration it requires. Builds the app on
// SQLite (temp dir) and drives it with app.inject().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

const KEY_A = 'ingest-key-aaaaaaaaaaaa';
const KEY_B = 'ingest-key-bbbbbbbbbbbb';
const READ = 'read-token-rrrrrrrrrrrr';
const ADMIN = 'admin-token-xxxxxxxxxx';
const ORIGIN = 'https://player.example.org';
const CMCD = 'cid="movie-1",e=ps,sf=d,sid="s1",sn=0,sta=s,ts=1764752400000,v=2';

const PUBLIC = {
  SECURITY_PROFILE: 'public',
  INGEST_KEYS: `${KEY_A},${KEY_B}`,
  READ_TOKEN: READ,
  ADMIN_TOKEN: ADMIN,
  CORS_ORIGINS: ORIGIN,
};

function assertError(
  res: { statusCode: number; json(): unknown; body: string },
  status: number,
  code: string,
) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.status, 'error');
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
}

function memoryLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

const submit = (headers: Record<string, string> = {}, url = '/api/submit', id = 'exp_sec') => ({
  method: 'POST' as const,
  url,
  headers,
  payload: url.startsWith('/api/submit/batch')
    ? [dashEvent(id, 1_700_000_000, { session_id: 's1' })]
    : dashEvent(id, 1_700_000_000, { session_id: 's1' }),
});

describe('open profile (default)', () => {
  test('ingest and reads need no credentials; no rate limit, no extra headers', async () => {
    const app = await buildApp(fixture.config({}));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await app.inject(submit())).statusCode, 200);
      const read = await app.inject('/api/metrics/exp_sec');
      assert.equal(read.statusCode, 200);
      assert.equal(read.json().count, 5);
      assert.equal(read.headers['x-ratelimit-limit'], undefined);
      assert.equal(read.headers['x-frame-options'], undefined);
    } finally {
      await app.close();
    }
  });
});

describe('public profile', () => {
  let app: FastifyInstance;
  const log = memoryLog();
  const webDir = fs.mkdtempSync(path.join(fixture.config().dataDir, 'ui-'));
  fs.writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>t</title>');

  before(async () => {
    app = await buildApp(fixture.config({ ...PUBLIC, LOG_LEVEL: 'info' }), {
      logger: { stream: log.stream },
      webDir,
    });
  });
  after(() => app?.close());

  test('ingest routes: missing or wrong key 401, right key 200 (header, Bearer or ?key=)', async () => {
    for (const url of ['/api/submit', '/api/submit/batch']) {
      assertError(await app.inject(submit({}, url)), 401, 'INGEST_KEY_REQUIRED');
      assertError(
        await app.inject(submit({ 'x-ingest-key': 'wrong-key-0000000000' }, url)),
        401,
        'INGEST_KEY_REQUIRED',
      );
    }
    const cmcd = (url: string, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'text/plain', ...headers },
        payload: CMCD,
      });
    assertError(await cmcd('/api/cmcd/exp_sec'), 401, 'INGEST_KEY_REQUIRED');
    assertError(
      await app.inject(`/api/cmcd/exp_sec?CMCD=${encodeURIComponent(CMCD)}`),
      401,
      'INGEST_KEY_REQUIRED',
    );
    assertError(await cmcd('/api/cmcd'), 401, 'INGEST_KEY_REQUIRED');

    assert.equal((await app.inject(submit({ 'x-ingest-key': KEY_A }))).statusCode, 200);
    assert.equal((await app.inject(submit({ authorization: `Bearer ${KEY_B}` }))).statusCode, 200);
    assert.equal((await app.inject(submit({}, `/api/submit?key=${KEY_A}`))).statusCode, 200);
    assert.equal((await app.inject(submit({ 'x-ingest-key': KEY_A }, '/api/submit/batch'))).statusCode, 200);
    const c = await cmcd(`/api/cmcd/exp_sec?key=${KEY_B}`);
    assert.ok(c.statusCode < 300, c.body);
    // Neither the read token nor the admin token is an ingest key.
    assertError(await app.inject(submit({ authorization: `Bearer ${READ}` })), 401, 'INGEST_KEY_REQUIRED');
  });

  test('data routes need the read token; health, OpenAPI and the dashboard shell stay open', async () => {
    const reads = [
      '/api/experiments',
      '/api/metrics/exp_sec',
      '/api/metrics/exp_sec?format=csv',
      '/api/experiments/exp_sec/sessions',
      '/api/experiments/exp_sec/qoe',
      '/api/experiments/exp_sec/timeseries?metric=buffer&session=s1',
    ];
    for (const url of reads) {
      assertError(await app.inject(url), 401, 'READ_TOKEN_REQUIRED');
      assertError(
        await app.inject({ url, headers: { authorization: 'Bearer not-the-token-000' } }),
        401,
        'READ_TOKEN_REQUIRED',
      );
      assertError(await app.inject({ url, headers: { 'x-ingest-key': KEY_A } }), 401, 'READ_TOKEN_REQUIRED');
      const ok = await app.inject({ url, headers: { authorization: `Bearer ${READ}` } });
      assert.equal(ok.statusCode, 200, `${url}: ${ok.body}`);
    }
    assert.equal(
      (await app.inject({ url: '/api/experiments', headers: { 'x-read-token': READ } })).statusCode,
      200,
    );
    assert.equal((await app.inject(`/api/experiments?token=${READ}`)).statusCode, 200);
    assert.equal((await app.inject('/api/health')).statusCode, 200);
    assert.equal((await app.inject('/api/openapi.json')).statusCode, 200);
    assert.equal((await app.inject('/')).statusCode, 200);
  });

  test('deletes need the admin token, not the read token', async () => {
    const url = '/api/experiments/exp_sec';
    assertError(
      await app.inject({ method: 'DELETE', url, headers: { authorization: `Bearer ${READ}` } }),
      401,
      'UNAUTHORIZED',
    );
    const ok = await app.inject({ method: 'DELETE', url, headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  test('a request from an Origin not on the list is refused; a listed one gets CORS headers', async () => {
    const bad = await app.inject(submit({ origin: 'https://evil.example', 'x-ingest-key': KEY_A }));
    assertError(bad, 403, 'ORIGIN_NOT_ALLOWED');
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    const good = await app.inject(submit({ origin: ORIGIN, 'x-ingest-key': KEY_A }));
    assert.equal(good.statusCode, 200);
    assert.equal(good.headers['access-control-allow-origin'], ORIGIN);
  });

  test('security headers on API replies; the dashboard keeps its own CSP', async () => {
    const api = await app.inject('/api/health');
    assert.equal(api.headers['x-content-type-options'], 'nosniff');
    assert.equal(api.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(String(api.headers['content-security-policy']), /default-src 'none'/);
    const page = await app.inject('/');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(
      (await app.inject('/sdk/reporter.js')).headers['cross-origin-resource-policy'],
      'cross-origin',
    );
  });

  test('keys and tokens never reach the log', async () => {
    await app.inject(submit({}, `/api/submit?key=${KEY_A}`));
    await app.inject(submit({ 'x-ingest-key': KEY_B }));
    await app.inject(`/api/experiments?token=${READ}`);
    await app.inject({ url: '/api/experiments', headers: { 'x-read-token': READ } });
    await app.inject({
      method: 'DELETE',
      url: '/api/experiments/nope',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const all = log.lines.join('');
    assert.ok(all.includes('/api/submit'), 'requests are logged');
    for (const secret of [KEY_A, KEY_B, READ, ADMIN])
      assert.ok(!all.includes(secret), `${secret} was logged`);
  });
});

describe('rate limits (public profile)', () => {
  test('per client IP: 429 RATE_LIMITED with Retry-After in the documented shape', async () => {
    const app = await buildApp(fixture.config({ ...PUBLIC, RATE_LIMIT_PER_IP: '3' }));
    try {
      const auth = { authorization: `Bearer ${READ}` };
      for (let i = 0; i < 3; i++)
        assert.equal((await app.inject({ url: '/api/experiments', headers: auth })).statusCode, 200);
      const res = await app.inject({ url: '/api/experiments', headers: auth });
      assertError(res, 429, 'RATE_LIMITED');
      assert.match(String(res.headers['retry-after']), /^\d+$/);
      assert.ok(Number(res.headers['retry-after']) >= 1);
      // Health is never limited.
      assert.equal((await app.inject('/api/health')).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  test('per ingest key: one key over its limit does not stop another', async () => {
    const app = await buildApp(
      fixture.config({ ...PUBLIC, RATE_LIMIT_PER_KEY: '2', RATE_LIMIT_PER_IP: '1000' }),
    );
    try {
      for (let i = 0; i < 2; i++)
        assert.equal((await app.inject(submit({ 'x-ingest-key': KEY_A }))).statusCode, 200);
      const over = await app.inject(submit({ 'x-ingest-key': KEY_A }));
      assertError(over, 429, 'RATE_LIMITED');
      assert.ok(Number(over.headers['retry-after']) >= 1);
      assert.equal((await app.inject(submit({ 'x-ingest-key': KEY_B }))).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('behind a reverse proxy', () => {
  test('TRUST_PROXY makes the per-IP limit count each forwarded client, not the proxy', async () => {
    // inject() connects from 127.0.0.1: the proxy.
    const app = await buildApp(
      fixture.config({ ...PUBLIC, RATE_LIMIT_PER_IP: '1', TRUST_PROXY: '127.0.0.1' }),
    );
    try {
      const get = (ip: string) =>
        app.inject({
          url: '/api/experiments',
          headers: { authorization: `Bearer ${READ}`, 'x-forwarded-for': ip },
        });
      assert.equal((await get('203.0.113.1')).statusCode, 200);
      assert.equal((await get('203.0.113.2')).statusCode, 200);
      assertError(await get('203.0.113.1'), 429, 'RATE_LIMITED');
    } finally {
      await app.close();
    }
  });
});

test('the public profile refuses to start without keys, a read token and an origin list', () => {
  const base = { LOG_LEVEL: 'silent', DATA_DIR: fixture.config().dataDir, ...PUBLIC };
  const cases: Array<[string, Record<string, string>]> = [
    ['INGEST_KEYS', { INGEST_KEYS: '' }],
    ['READ_TOKEN', { READ_TOKEN: '' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
    ['INGEST_KEYS', { INGEST_KEYS: 'short' }],
    ['SECURITY_PROFILE', { SECURITY_PROFILE: 'closed' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'proxy.local' }],
  ];
  for (const [variable, env] of cases) {
    assert.throws(
      () => loadConfig({ ...base, ...env }),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
});
