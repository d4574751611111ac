// N3 (audit 2026-12-05): per-client caps on connections and on requests in progress, so that
// one client cannot starve health checks or other players. Clients are told apart by their
// loopback source address (127.0.0.2, 127.0.0.3, ...), or by X-Forwarded-For from a proxy
// TRUST_PROXY names. Starts the app (SQLite in a temp dir) on 127.0.0.1 with small caps.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await fixture.cleanup();
});

async function listen(env: Record<string, string>): Promise<{ app: FastifyInstance; port: number }> {
  const app = await buildApp(fixture.config(env));
  await app.listen({ host: '127.0.0.1', port: 0 });
  after(() => {
    for (const s of sockets) s.destroy();
    return app.close();
  });
  return { app, port: (app.server.address() as net.AddressInfo).port };
}

/** A connection from `from`, with `first` written once connected; `text` is all it received. */
function open(port: number, from: string, first = ''): Promise<{ socket: net.Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    sockets.push(socket);
    let out = '';
    socket.on('data', (d) => {
      out += d;
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => {});
      if (first) socket.write(first);
      resolve({ socket, text: () => out });
    });
  });
}

function request(
  port: number,
  from: string,
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        localAddress: from,
        agent: false,
        headers: { 'content-type': 'application/json', ...opts.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const slowUpload = (headers = '') =>
  `POST /api/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: 500\r\n\r\n{"a":`;

test('one client holding every connection it may does not lock out health checks or others', async () => {
  const { port } = await listen({ HTTP_MAX_CONNECTIONS: '30', HTTP_MAX_CONNECTIONS_PER_CLIENT: '10' });
  const held = [];
  for (let i = 0; i < 30; i++) held.push(await open(port, '127.0.0.2').catch(() => undefined));
  await wait(300);
  for (let i = 0; i < 10; i++) {
    const res = await request(port, '127.0.0.3', '/api/health');
    assert.equal(res.status, 200, `health check ${i}: ${res.body}`);
  }
  const refused = held.filter((c) => c?.text().startsWith('HTTP/1.1 429'));
  assert.equal(refused.length, 20, 'connections past the client share are answered 429');
  const body = JSON.parse(refused[0]?.text().split('\r\n\r\n')[1] ?? '{}');
  assert.equal(body.code, 'CLIENT_BUSY');
  assert.match(body.message, /HTTP_MAX_CONNECTIONS_PER_CLIENT/);
  const sub = await request(port, '127.0.0.4', '/api/submit', {
    method: 'POST',
    body: JSON.stringify(dashEvent('fair', 1)),
  });
  assert.equal(sub.status, 200, sub.body);
});

test('one client may have HTTP_MAX_IN_FLIGHT_PER_CLIENT requests in progress; probes are not counted', async () => {
  const { port } = await listen({ HTTP_MAX_IN_FLIGHT_PER_CLIENT: '4' });
  const uploads = [];
  for (let i = 0; i < 4; i++) uploads.push(await open(port, '127.0.0.2', slowUpload()));
  await wait(200);
  const over = await request(port, '127.0.0.2', '/api/submit', {
    method: 'POST',
    body: JSON.stringify(dashEvent('fair', 2)),
  });
  assert.equal(over.status, 429, over.body);
  assert.equal(JSON.parse(over.body).code, 'CLIENT_BUSY');
  assert.match(JSON.parse(over.body).message, /HTTP_MAX_IN_FLIGHT_PER_CLIENT/);

  assert.equal((await request(port, '127.0.0.2', '/api/health')).status, 200);
  assert.equal((await request(port, '127.0.0.2', '/readyz')).status, 200);
  const other = await request(port, '127.0.0.3', '/api/submit', {
    method: 'POST',
    body: JSON.stringify(dashEvent('fair', 3)),
  });
  assert.equal(other.status, 200, other.body);

  // A finished request gives its place back.
  uploads[0]?.socket.destroy();
  await wait(200);
  const again = await request(port, '127.0.0.2', '/api/submit', {
    method: 'POST',
    body: JSON.stringify(dashEvent('fair', 4)),
  });
  assert.equal(again.status, 200, again.body);
});

test('behind a listed proxy each forwarded client has its own share; the proxy is not capped', async () => {
  const { port } = await listen({
    HTTP_MAX_IN_FLIGHT_PER_CLIENT: '2',
    HTTP_MAX_CONNECTIONS_PER_CLIENT: '3',
    TRUST_PROXY: '127.0.0.2',
  });
  const fwd = (ip: string) => `X-Forwarded-For: ${ip}\r\n`;
  for (let i = 0; i < 2; i++) await open(port, '127.0.0.2', slowUpload(fwd('203.0.113.1')));
  await wait(200);
  const post = (ip: string) =>
    request(port, '127.0.0.2', '/api/submit', {
      method: 'POST',
      body: JSON.stringify(dashEvent('fair', 5)),
      headers: { 'x-forwarded-for': ip },
    });
  assert.equal((await post('203.0.113.1')).status, 429);
  assert.equal((await post('203.0.113.2')).status, 200);

  // A client that is not the proxy cannot pick its share by sending the header itself.
  for (let i = 0; i < 2; i++) await open(port, '127.0.0.3', slowUpload(fwd(`198.51.100.${i}`)));
  await wait(200);
  const direct = await request(port, '127.0.0.3', '/api/submit', {
    method: 'POST',
    body: JSON.stringify(dashEvent('fair', 6)),
    headers: { 'x-forwarded-for': '198.51.100.9' },
  });
  assert.equal(direct.status, 429, direct.body);
});
