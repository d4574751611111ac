// N6 (audit 2026-12-05): a body over the limit always gets a 413 the client can read, never
// EPIPE or a reset: the server reads and drops the rest of the body (up to
// HTTP_DISCARD_MAX_BYTES) before it closes or reuses the connection. Node's fetch and curl,
// bodies from 1 to 64 MiB, with and without Content-Length. Starts the app (SQLite in a temp
// dir) as a separate server process on 127.0.0.1 (in one process with the client the race
// that loses the reply hardly ever happens) and runs curl.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-oversize-'));
let server: ServerProcess;
let base: string;

before(async () => {
  server = await startServerProcess({
    STORAGE: 'sqlite',
    DATA_DIR: path.join(tmp, 'data'),
    LOG_LEVEL: 'warn',
  });
  base = server.base;
});
after(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const SIZES = [1.5, 2, 4, 8.5, 16, 64];
const ROUTES = ['/api/submit', '/api/submit/batch'];

/** A JSON event of about `bytes` bytes (a batch of one for the batch route). */
function body(bytes: number, route: string): Buffer {
  const head =
    '{"experiment_id":"big","timestamp":1764000000,"event_type":"x","protocol":"dash","payload":{"s":"';
  const event = `${head}${'A'.repeat(Math.max(0, bytes - head.length - 4))}"}}`;
  return Buffer.from(route.endsWith('batch') ? `[${event}]` : event);
}

function assert413(status: number, text: string, what: string): void {
  assert.equal(status, 413, `${what}: ${text.slice(0, 200)}`);
  const json = JSON.parse(text);
  assert.equal(json.code, 'BODY_TOO_LARGE', what);
  assert.match(json.message, /over \d+ bytes/, what);
}

test("Node's fetch reads a 413 for every oversized body, 1 to 64 MiB", async () => {
  for (const route of ROUTES) {
    for (const mib of SIZES) {
      if (route.endsWith('batch') && mib < 8.5) continue;
      const payload = body(mib * MiB, route);
      for (let i = 0; i < 5; i++) {
        const what = `${route} ${mib} MiB #${i}`;
        const res = await fetch(`${base}${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new Uint8Array(payload),
        }).catch((err: Error & { cause?: { code?: string } }) => {
          throw new Error(`${what}: ${err.cause?.code ?? err.message}`);
        });
        assert413(res.status, await res.text(), what);
      }
    }
  }
});

test('a chunked body (no Content-Length) over the limit gets a readable 413 too', async () => {
  const chunk = Buffer.alloc(256 * 1024, 'A');
  for (let i = 0; i < 3; i++) {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(Buffer.from('{"experiment_id":"big","payload":{"s":"'));
        if (sent >= 8 * MiB) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${base}/api/submit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert413(res.status, await res.text(), `chunked #${i}`);
  }
});

test('curl reads a 413 for every oversized body (Expect: 100-continue and without)', async () => {
  const run = promisify(execFile);
  for (const mib of SIZES) {
    const file = path.join(tmp, `${mib}.json`);
    fs.writeFileSync(file, body(mib * MiB, '/api/submit'));
    for (const expect of [[], ['-H', 'Expect:']]) {
      for (let i = 0; i < 2; i++) {
        const what = `curl ${mib} MiB ${expect.length ? 'no Expect' : 'Expect'} #${i}`;
        const { stdout } = await run('curl', [
          '-sS',
          '-w',
          '\n%{http_code}',
          '-H',
          'content-type: application/json',
          ...expect,
          '--data-binary',
          `@${file}`,
          `${base}/api/submit`,
        ]).catch((err: Error & { stderr?: string }) => {
          throw new Error(`${what}: ${err.stderr ?? err.message}`);
        });
        const at = stdout.lastIndexOf('\n');
        assert413(Number(stdout.slice(at + 1)), stdout.slice(0, at), what);
      }
    }
  }
});

test('after a drained 413 the connection serves the next request', async () => {
  const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
  let out = '';
  socket.on('data', (d) => {
    out += d;
  });
  await new Promise((r) => socket.once('connect', r));
  const big = body(3 * MiB, '/api/submit');
  socket.write(
    `POST /api/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`,
  );
  socket.write(big);
  socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < 100 && !/HTTP\/1\.1 200/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  assert.match(out, /^HTTP\/1\.1 413 /);
  assert.match(out, /HTTP\/1\.1 200 /);
});

test('past HTTP_DISCARD_MAX_BYTES the server stops reading and closes the connection', async () => {
  const { buildApp } = await import('../../src/app.ts');
  const { configFrom } = await import('../../src/config/index.ts');
  const app = await buildApp(
    configFrom({ STORAGE: 'sqlite', DATA_DIR: path.join(tmp, 'bound'), HTTP_DISCARD_MAX_BYTES: String(MiB) }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const socket = net.connect((app.server.address() as net.AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    let out = '';
    socket.on('data', (d) => {
      out += d;
    });
    const closed = new Promise((r) => socket.once('close', r));
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /api/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * MiB}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 'A');
    let sent = 0;
    while (!socket.destroyed && sent < 8 * MiB) {
      if (!socket.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      sent += chunk.length;
    }
    await closed;
    assert.match(out, /^HTTP\/1\.1 413 /);
    assert.ok(sent < 100 * MiB);
  } finally {
    await app.close();
  }
});
