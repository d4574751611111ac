// Hardening round 3, the doors of the public profile and small edge rules (audit 2026-12-05):
// N10 /metrics needs METRICS_TOKEN with SECURITY_PROFILE=public (probes stay open), N11
// TRUST_PROXY names proxies (true refused; a client that connects directly cannot rotate
// X-Forwarded-For past the limit), N12 Origin compared by scheme, host and port, N13 credentials
// redacted in logged URLs however their names are %-encoded, N15 DELETE with a JSON content type
// and no body, and lone UTF-16 surrogates refused naming the field. Builds the app on SQLite
// (temp dir) and drives it with app.inject().
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { redactUrl, sameOrigin } from '../../src/security/access.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

const KEY = 'ingest-key-aaaaaaaaaaaa';
const READ = 'read-token-rrrrrrrrrrrr';
const ADMIN = 'admin-token-xxxxxxxxxx';
const PUBLIC = {
  SECURITY_PROFILE: 'public',
  INGEST_KEYS: KEY,
  READ_TOKEN: READ,
  ADMIN_TOKEN: ADMIN,
  CORS_ORIGINS: 'https://player.example.org',
};

function code(res: { statusCode: number; body: string }, status: number, expected: string): void {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as { code: string; message: string };
  assert.equal(body.code, expected);
  assert.ok(body.message.length > 0);
}

describe('N10: /metrics in the public profile', () => {
  test('is refused without METRICS_TOKEN, needs it when set; probes stay open', async () => {
    const shut = await buildApp(fixture.config(PUBLIC));
    after(() => shut.close());
    code(await shut.inject('/metrics'), 403, 'FORBIDDEN');
    assert.match((await shut.inject('/metrics')).json().message, /METRICS_TOKEN/);
    code(
      await shut.inject({ url: '/metrics', headers: { authorization: `Bearer ${READ}` } }),
      403,
      'FORBIDDEN',
    );
    assert.equal((await shut.inject('/livez')).statusCode, 200);
    assert.equal((await shut.inject('/readyz')).statusCode, 200);

    const token = 'metrics-token-mmmmmmmm';
    const open = await buildApp(fixture.config({ ...PUBLIC, METRICS_TOKEN: token }));
    after(() => open.close());
    code(await open.inject('/metrics'), 401, 'UNAUTHORIZED');
    const ok = await open.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.statusCode, 200);
  });

  test('stays open in the default profile', async () => {
    const app = await buildApp(fixture.config());
    after(() => app.close());
    assert.equal((await app.inject('/metrics')).statusCode, 200);
  });
});

describe('N11: TRUST_PROXY', () => {
  test('true is refused at start-up, and a hop count with public', () => {
    const base = { LOG_LEVEL: 'silent', DATA_DIR: fixture.config().dataDir };
    for (const env of [{ TRUST_PROXY: 'true' }, { ...PUBLIC, TRUST_PROXY: '1' }]) {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (e: unknown) =>
          e instanceof ConfigError && e.variable === 'TRUST_PROXY' && /addresses/.test(e.message),
      );
    }
    const ok = loadConfig({ ...base, ...PUBLIC, TRUST_PROXY: '10.0.0.0/8, loopback' });
    assert.deepEqual(ok.security.trustProxy, ['10.0.0.0/8', 'loopback']);
  });

  test('a client that is not a listed proxy cannot rotate X-Forwarded-For past the limit', async () => {
    const app = await buildApp(
      fixture.config({ ...PUBLIC, RATE_LIMIT_PER_IP: '3', TRUST_PROXY: '10.0.0.1' }),
    );
    after(() => app.close());
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await app.inject({
        url: '/api/experiments',
        headers: { authorization: `Bearer ${READ}`, 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
  });
});

describe('N12: same-origin requests compare scheme, host and port', () => {
  test('sameOrigin', () => {
    assert.equal(sameOrigin('http://127.0.0.1:8000', 'http', '127.0.0.1:8000'), true);
    assert.equal(sameOrigin('https://stats.example.org', 'https', 'stats.example.org:443'), true);
    assert.equal(sameOrigin('gopher://127.0.0.1:8000', 'http', '127.0.0.1:8000'), false);
    assert.equal(sameOrigin('https://127.0.0.1:8000', 'http', '127.0.0.1:8000'), false);
    assert.equal(sameOrigin('http://127.0.0.1:8001', 'http', '127.0.0.1:8000'), false);
    assert.equal(sameOrigin('http://127.0.0.1', 'http', '127.0.0.1:8000'), false);
    assert.equal(sameOrigin('null', 'http', '127.0.0.1:8000'), false);
  });

  test('a foreign scheme or port with the Host of the server is refused', async () => {
    const app = await buildApp(fixture.config(PUBLIC));
    after(() => app.close());
    const submit = (origin: string) =>
      app.inject({
        method: 'POST',
        url: '/api/submit',
        headers: { host: '127.0.0.1:18602', origin, 'x-ingest-key': KEY },
        payload: dashEvent('origins', 1_764_000_000),
      });
    code(await submit('gopher://127.0.0.1:18602'), 403, 'ORIGIN_NOT_ALLOWED');
    code(await submit('https://127.0.0.1:18602'), 403, 'ORIGIN_NOT_ALLOWED');
    code(await submit('http://127.0.0.1:18603'), 403, 'ORIGIN_NOT_ALLOWED');
    assert.equal((await submit('http://127.0.0.1:18602')).statusCode, 200);
  });
});

describe('N13: credentials in logged URLs', () => {
  test('redactUrl hides key and token however the name is spelled', () => {
    const secret = 'ingestkey0123456789';
    for (const q of ['key', '%6Bey', 'k%65y', '%6b%65%79', 'KEY', 'token', 't%6Fken', '%74oken', 'key+']) {
      const out = redactUrl(`/api/submit?a=1&${q}=${secret}&b=2`);
      assert.ok(!out.includes(secret), `${q}: ${out}`);
      assert.ok(out.includes('a=1') && out.includes('b=2'), out);
    }
    assert.equal(redactUrl('/api/metrics/x?limit=10&format=csv'), '/api/metrics/x?limit=10&format=csv');
    assert.equal(redactUrl('/api/submit'), '/api/submit');
  });

  test('a key sent as ?%6Bey= is accepted and not logged', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const app = await buildApp(fixture.config({ ...PUBLIC, LOG_LEVEL: 'info' }), { logger: { stream } });
    after(() => app.close());
    const res = await app.inject({
      method: 'POST',
      url: `/api/submit?%6Bey=${KEY}`,
      payload: dashEvent('redact', 1_764_000_000),
    });
    assert.equal(res.statusCode, 200, res.body);
    const log = lines.join('');
    assert.ok(log.includes('%6Bey=[redacted]'), log);
    assert.ok(!log.includes(KEY));
  });
});

describe('N15: DELETE with a JSON content type and no body', () => {
  test('is a delete, not 400 EMPTY_BODY', async () => {
    const app = await buildApp(fixture.config({ ADMIN_TOKEN: ADMIN }));
    after(() => app.close());
    await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('gone', 1) });
    const res = await app.inject({
      method: 'DELETE',
      url: '/api/experiments/gone',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().deleted, 1);
    const bad = await app.inject({
      method: 'DELETE',
      url: '/api/experiments/gone',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      payload: '{not json',
    });
    code(bad, 400, 'INVALID_JSON');
  });
});

describe('lone UTF-16 surrogates', () => {
  test('are refused with a 400 naming the field, in values and in names', async () => {
    const app = await buildApp(fixture.config());
    after(() => app.close());
    const post = (body: string, url = '/api/submit') =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: body });
    const ev = (extra: string) =>
      `{"experiment_id":"sur","timestamp":1,"event_type":"x","protocol":"dash","payload":{${extra}}}`;

    const value = await post(ev('"a":{"b":"ok\\ud800"}'));
    code(value, 400, 'VALIDATION_FAILED');
    assert.equal(value.json().details[0].path, '/payload/a/b');
    assert.match(value.json().message, /surrogate/);

    const name = await post(ev('"\\udc00":1'));
    code(name, 400, 'INVALID_FIELD_NAME');
    assert.match(name.json().details[0].message, /surrogate/);

    const top = await post(
      '{"experiment_id":"sur","timestamp":1,"event_type":"\\ud83d","protocol":"dash","payload":{}}',
    );
    code(top, 400, 'VALIDATION_FAILED');
    assert.equal(top.json().details[0].path, '/event_type');

    // A pair is a valid character (an emoji), stored as sent.
    assert.equal((await post(ev('"a":"\\ud83d\\ude00"'))).statusCode, 200);

    const batch = await post(`[${ev('"a":1')},${ev('"a":"\\ud800"')}]`, '/api/submit/batch');
    assert.equal(batch.statusCode, 200, batch.body);
    assert.equal(batch.json().rejected.length, 1);
  });
});
