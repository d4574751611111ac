// Ids, cursors and error shapes at the HTTP edge: the longest valid experiment id (and the ids
// "." and "..") on every route, cursors for long session filters, and the documented error
// shape for Fastify's and Node's own errors (414, bad URLs, malformed request lines, bad
// Content-Length). Builds the app on SQLite (temp dir); raw-socket cases listen on 127.0.0.1.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { dashEvent } from './helpers/events.ts';
import { sqliteFixture } from './helpers/stores.ts';

const fixture = sqliteFixture();
const ADMIN = 'admin-token-for-tests';
const LONG_ID = `${'x'.repeat(120)}_id-1.23`.slice(0, 128);

function assertShape(res: { statusCode: number; json(): unknown }, status: number, code?: string): void {
  assert.equal(res.statusCode, status);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.status, 'error');
  assert.equal(typeof body.code, 'string');
  assert.doesNotMatch(String(body.code), /^FST_/);
  assert.equal(typeof body.message, 'string');
  if (code) assert.equal(body.code, code);
}

/** Sends raw bytes and returns the whole answer as text (the server closes after an error). */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

function parseRaw(text: string): { status: number; body: Record<string, unknown> } {
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  return { status: Number(head.split(' ')[1]), body: JSON.parse(body) };
}

describe('ids and cursors', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(fixture.config({ ADMIN_TOKEN: ADMIN }));
    for (const id of [LONG_ID, '.', '..']) {
      for (let i = 0; i < 3; i++) {
        const res = await app.inject({
          method: 'POST',
          url: '/api/submit',
          payload: dashEvent(id, 1_700_000_000 + i, { session_id: 's1' }),
        });
        assert.equal(res.statusCode, 200, res.body);
      }
    }
  });
  after(async () => {
    await app.close();
    await fixture.cleanup();
  });

  test('a 128-character experiment id works on every route that takes one', async () => {
    assert.equal(LONG_ID.length, 128);
    const id = LONG_ID;
    for (const url of [
      `/api/metrics/${id}`,
      `/api/experiments/${id}/sessions`,
      `/api/experiments/${id}/qoe`,
      `/api/experiments/${id}/timeseries?metric=buffer&session=s1`,
    ]) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    }
    // Every character %-escaped still fits.
    const escaped = [...id].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    assert.equal((await app.inject(`/api/metrics/${escaped}`)).json().count, 3);
    const cmcd = await app.inject({
      method: 'POST',
      url: `/api/cmcd/${id}`,
      headers: { 'content-type': 'text/plain' },
      payload: 'cid="movie-1",e=ps,sf=d,sid="s1",sn=0,sta=s,ts=1764752400000,v=2',
    });
    assert.equal(cmcd.statusCode < 300, true, cmcd.body);
    const del = await app.inject({
      method: 'DELETE',
      url: `/api/experiments/${id}`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(del.statusCode, 200, del.body);
  });

  test('ids "." and ".." are reachable as the dashboard sends them (%252E per dot)', async () => {
    const one = await app.inject('/api/metrics/%252E');
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().experiment_id, '.');
    const two = await app.inject('/api/experiments/%252E%252E/sessions');
    assert.equal(two.statusCode, 200, two.body);
    assert.equal(two.json().experiment_id, '..');
    // A %252E inside a longer segment is not a dot segment: left alone, so refused.
    assertShape(await app.inject('/api/metrics/a%252Eb'), 400, 'INVALID_EXPERIMENT_ID');
  });

  test('a server-issued cursor is accepted even for a 2,048-character session filter', async () => {
    const session = 'v'.repeat(2048);
    for (let i = 0; i < 3; i++) {
      const ev = dashEvent('exp_cursor', 1_700_000_000 + i, { video_id: session });
      assert.equal((await app.inject({ method: 'POST', url: '/api/submit', payload: ev })).statusCode, 200);
    }
    let url = `/api/metrics/exp_cursor?limit=1&session_id=${session}`;
    let seen = 0;
    for (let page = 0; page < 5; page++) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      seen += body.count;
      if (!body.next_cursor) break;
      url = `/api/metrics/exp_cursor?limit=1&session_id=${session}&cursor=${body.next_cursor}`;
    }
    assert.equal(seen, 3);
  });
});

describe('error shapes', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = await buildApp(fixture.config({ ADMIN_TOKEN: ADMIN }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await app.close();
  });

  test('a path parameter over the limit is 414 URI_TOO_LONG in the documented shape', async () => {
    assertShape(await app.inject(`/api/metrics/${'a'.repeat(1000)}`), 414, 'URI_TOO_LONG');
  });

  test('an id that is not one is INVALID_EXPERIMENT_ID on every route, DELETE included', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    assertShape(
      await app.inject({ method: 'DELETE', url: '/api/experiments/..%2f', headers: auth }),
      400,
      'INVALID_EXPERIMENT_ID',
    );
    assertShape(await app.inject('/api/experiments/a%20b/sessions'), 400, 'INVALID_EXPERIMENT_ID');
    assertShape(await app.inject(`/api/metrics/${'a'.repeat(129)}`), 400, 'INVALID_EXPERIMENT_ID');
  });

  test('/sdk/ names from the object prototype are 404 NOT_FOUND', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assertShape(await app.inject(`/sdk/${name}`), 404, 'NOT_FOUND');
    }
  });

  test('a malformed %-escape in the path is a 400 in the documented shape', async () => {
    const res = await app.inject('/api/metrics/%E0%A4%A');
    assert.ok(res.statusCode === 400, res.body);
    assertShape(res, 400);
  });

  test("Node's own parse errors (bad Content-Length, bad request line) use the documented shape", async () => {
    const cases = [
      'POST /api/submit HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}',
      'POST /api/submit HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      'GARBAGE\r\n\r\n',
      `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ];
    for (const bytes of cases) {
      const { status, body } = parseRaw(await rawRequest(port, bytes));
      assert.ok(status === 400 || status === 431, `status ${status}`);
      assert.equal(body.status, 'error');
      assert.ok(body.code === 'BAD_REQUEST' || body.code === 'HEADERS_TOO_LARGE', String(body.code));
      assert.equal(typeof body.message, 'string');
    }
  });
});
