// Slow clients and connection limits over real loopback sockets: a body trickling below the
// rate floor, a request over the request timeout, a stalled upload, a reader that never reads
// a large export, the connection cap, and SIGTERM while an upload is stalled (a real server
// process). Starts the app (SQLite in a temp dir) on 127.0.0.1 with short limits per test.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { sqliteFixture } from '../helpers/stores.ts';
import { scaled } from '../helpers/wait.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

async function listen(env: Record<string, string>): Promise<{ app: FastifyInstance; port: number }> {
  const app = await buildApp(fixture.config(env));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as net.AddressInfo).port };
}

interface Conn {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
}

function connect(port: number, first: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => {
      out += d;
    });
    const closed = new Promise<string>((r) => socket.on('close', () => r(out)));
    socket.once('error', () => {});
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

const upload = (len: number) =>
  `POST /api/submit/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${len}\r\n\r\n`;

function status408(text: string): void {
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  assert.match(head, /^HTTP\/1\.1 408 /);
  const json = JSON.parse(body);
  assert.equal(json.status, 'error');
  assert.equal(json.code, 'REQUEST_TIMEOUT');
}

async function countEvents(app: FastifyInstance, id: string): Promise<number> {
  const res = await app.inject(`/api/metrics/${id}`);
  return res.statusCode === 200 ? res.json().count : 0;
}

describe('slow uploads', { timeout: scaled(30_000) }, () => {
  test('a body trickling below the rate floor is cut with 408 and nothing is stored', async () => {
    const { app, port } = await listen({
      HTTP_BODY_MIN_BYTES_PER_S: '2000',
      HTTP_BODY_GRACE_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '600000',
      HTTP_HEADERS_TIMEOUT_MS: '60000',
      HTTP_IDLE_TIMEOUT_MS: '600000',
    });
    try {
      const line = `${JSON.stringify(dashEvent('exp_trickle', 1))}\n`;
      const c = await connect(port, upload(100_000));
      c.socket.write(line);
      // One byte every 50 ms: 20 bytes/s, far below the floor, yet never idle.
      const t = setInterval(() => c.socket.writable && c.socket.write(' '), 50);
      const text = await c.closed;
      clearInterval(t);
      status408(text);
      assert.equal(await countEvents(app, 'exp_trickle'), 0);
      // A body at a normal pace of the same size is not affected.
      const body = Array.from({ length: 200 }, (_, k) => JSON.stringify(dashEvent('exp_fast', k))).join('\n');
      const ok = await app.inject({
        method: 'POST',
        url: '/api/submit/batch',
        headers: { 'content-type': 'application/x-ndjson' },
        payload: body,
      });
      assert.equal(ok.statusCode, 200, ok.body);
    } finally {
      await app.close();
    }
  });

  test('a request not complete within HTTP_REQUEST_TIMEOUT_MS gets 408 in the documented shape', async () => {
    const { app, port } = await listen({
      HTTP_BODY_MIN_BYTES_PER_S: '0',
      HTTP_REQUEST_TIMEOUT_MS: '500',
      HTTP_HEADERS_TIMEOUT_MS: '500',
      HTTP_IDLE_TIMEOUT_MS: '600000',
    });
    try {
      const c = await connect(port, upload(500));
      const t = setInterval(() => c.socket.writable && c.socket.write(' '), 50);
      const text = await c.closed;
      clearInterval(t);
      status408(text);
    } finally {
      await app.close();
    }
  });

  test('an upload that stalls is closed after HTTP_IDLE_TIMEOUT_MS', async () => {
    const { app, port } = await listen({
      HTTP_BODY_MIN_BYTES_PER_S: '0',
      HTTP_REQUEST_TIMEOUT_MS: '600000',
      HTTP_HEADERS_TIMEOUT_MS: '60000',
      HTTP_IDLE_TIMEOUT_MS: '300',
    });
    try {
      const c = await connect(port, `${upload(1000)}[`);
      await c.closed;
      assert.ok(c.socket.destroyed);
    } finally {
      await app.close();
    }
  });
});

describe('slow readers and the connection cap', { timeout: scaled(60_000) }, () => {
  test('a client that never reads a large export is disconnected after HTTP_IDLE_TIMEOUT_MS', async () => {
    const { app, port } = await listen({ HTTP_IDLE_TIMEOUT_MS: '500' });
    try {
      // ~24 MB of events: more than loopback socket buffers hold, so the export must stall.
      const pad = 'p'.repeat(4000);
      for (let b = 0; b < 6; b++) {
        const events = Array.from({ length: 1000 }, (_, k) =>
          dashEvent('exp_big', b * 1000 + k, { payload: { pad } }),
        );
        const res = await app.inject({ method: 'POST', url: '/api/submit/batch', payload: events });
        assert.equal(res.statusCode, 200, res.body);
      }
      const serverSide = new Promise<net.Socket>((r) => app.server.once('connection', r));
      const c = await connect(port, 'GET /api/metrics/exp_big?format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n');
      c.socket.pause();
      const s = await serverSide;
      await new Promise((r) => s.once('close', r));
      assert.ok(s.destroyed);
      c.socket.destroy();
      // The server still answers.
      assert.equal((await app.inject('/api/health')).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  test('a response the server takes longer than HTTP_IDLE_TIMEOUT_MS to compute is not cut', async () => {
    const app = await buildApp(fixture.config({ HTTP_IDLE_TIMEOUT_MS: '200' }));
    let release = () => {};
    const computing = new Promise<void>((r) => {
      release = r;
    });
    let started = () => {};
    const arrived = new Promise<void>((r) => {
      started = r;
    });
    app.get('/test-slow-compute', async () => {
      started();
      await computing;
      return { ok: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as net.AddressInfo).port;
      // Watch the socket itself: a server 'timeout' listener would change what Node does.
      const timedOut = new Promise<void>((r) =>
        app.server.once('connection', (socket: net.Socket) => socket.once('timeout', () => r())),
      );
      const reply = fetch(`http://127.0.0.1:${port}/test-slow-compute`);
      await arrived;
      // The socket's idle timeout fires while the handler is still working; then it answers.
      await timedOut;
      release();
      const res = await reply;
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true });
    } finally {
      await app.close();
    }
  });

  test('connections beyond HTTP_MAX_CONNECTIONS are dropped; the others still work', async () => {
    const { app, port } = await listen({ HTTP_MAX_CONNECTIONS: '2' });
    try {
      const accepted: net.Socket[] = [];
      app.server.on('connection', (s) => accepted.push(s));
      const a = await connect(port, '');
      const b = await connect(port, '');
      while (accepted.length < 2) await new Promise((r) => setImmediate(r));
      const c = await connect(port, 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await c.closed, '', 'the third connection is closed without an answer');
      a.socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(await a.closed, /^HTTP\/1\.1 200 /);
      b.socket.destroy();
    } finally {
      await app.close();
    }
  });
});

test('SIGTERM with an upload stalled mid-body still exits 0 within the grace period', {
  timeout: scaled(60_000),
}, async () => {
  const dir = fixture.config().dataDir;
  const server = await startServerProcess({ DATA_DIR: dir, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '500' });
  try {
    const port = server.port;
    const head = upload(100_000).replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n');
    const c = await connect(port, head);
    // "100 Continue": the request is in flight (headers parsed, handler running) before the signal.
    await new Promise<void>((r) => c.socket.once('data', () => r()));
    c.socket.write('[');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    await c.closed;
  } finally {
    await server.stop();
  }
});

test('timeout and limit settings are checked at start, naming the variable', () => {
  const base = { LOG_LEVEL: 'silent', DATA_DIR: fixture.config().dataDir };
  const cases: Array<[string, Record<string, string>]> = [
    ['HTTP_HEADERS_TIMEOUT_MS', { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' }],
    ['HTTP_REQUEST_TIMEOUT_MS', { HTTP_REQUEST_TIMEOUT_MS: 'soon' }],
    ['HTTP_MAX_CONNECTIONS', { HTTP_MAX_CONNECTIONS: '0' }],
    ['HTTP_BODY_MIN_BYTES_PER_S', { HTTP_BODY_MIN_BYTES_PER_S: '-1' }],
    ['SHUTDOWN_GRACE_MS', { SHUTDOWN_GRACE_MS: '999999' }],
  ];
  for (const [variable, env] of cases) {
    assert.throws(
      () => loadConfig({ ...base, ...env }),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
  const d = loadConfig(base).http;
  assert.deepEqual(
    [d.requestTimeoutMs, d.headersTimeoutMs, d.idleTimeoutMs, d.bodyMinBytesPerSec, d.maxConnections],
    [60_000, 20_000, 30_000, 1024, 5000],
    'the documented defaults',
  );
});
