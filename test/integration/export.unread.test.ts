// N4 and N14 (audit 2026-12-05): unread exports. Many CSV exports whose clients never read do
// not freeze the event loop (health keeps answering), and an export whose client stopped
// reading is cut HTTP_IDLE_TIMEOUT_MS after its last progress, not twice that. Starts the app
// (SQLite in a temp dir) on 127.0.0.1; the readers are paused loopback sockets.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { dashEvent } from '../helpers/events.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
const IDLE_MS = 2000;
let app: FastifyInstance;
let port: number;
const sockets: net.Socket[] = [];

before(async () => {
  app = await buildApp(fixture.config({ HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS) }));
  // 60,000 small events: about 12 MB of CSV, more than loopback buffers take per socket.
  for (let b = 0; b < 12; b++) {
    const events = Array.from({ length: 5000 }, (_, k) =>
      dashEvent('unread', 1_764_000_000 + b * 5000 + k, { payload: { bitrate: 3e6, buffer: 12.5, n: k } }),
    );
    const res = await app.inject({ method: 'POST', url: '/api/submit/batch', payload: events });
    assert.equal(res.statusCode, 200, res.body);
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await app.close();
  await fixture.cleanup();
});

/** Starts a CSV export and never reads it; resolves with the server's side of the connection. */
async function unreadExport(): Promise<net.Socket> {
  const serverSide = new Promise<net.Socket>((r) => app.server.once('connection', r));
  const c = net.connect(port, '127.0.0.1');
  sockets.push(c);
  c.on('error', () => {});
  await new Promise((r) => c.once('connect', r));
  c.pause();
  c.write('GET /api/metrics/unread?format=csv HTTP/1.1\r\nHost: x\r\n\r\n');
  return serverSide;
}

test('an unread export is cut HTTP_IDLE_TIMEOUT_MS after its last progress', async () => {
  const s = await unreadExport();
  let written = -1;
  let lastProgress = Date.now();
  const poll = setInterval(() => {
    if (s.bytesWritten !== written) {
      written = s.bytesWritten;
      lastProgress = Date.now();
    }
  }, 20);
  await new Promise((r) => s.once('close', r));
  clearInterval(poll);
  const after = Date.now() - lastProgress;
  assert.ok(written > 1024 * 1024, `the export wrote ${written} bytes`);
  assert.ok(after >= IDLE_MS * 0.8, `cut ${after} ms after the last progress`);
  assert.ok(after < IDLE_MS * 1.4, `cut ${after} ms after the last progress (idle timeout ${IDLE_MS} ms)`);
});

test('50 unread CSV exports do not hold /api/health (a server process, as deployed)', async () => {
  const dir = fixture.config().dataDir;
  const server = await startServerProcess({ STORAGE: 'sqlite', DATA_DIR: dir, LOG_LEVEL: 'warn' });
  try {
    for (let b = 0; b < 12; b++) {
      const events = Array.from({ length: 5000 }, (_, k) =>
        dashEvent('unread', 1_764_000_000 + b * 5000 + k, { payload: { bitrate: 3e6, buffer: 12.5, n: k } }),
      );
      const res = await fetch(`${server.base}/api/submit/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      assert.equal(res.status, 200, await res.text());
    }
    const health = async () => {
      const t = Date.now();
      const res = await fetch(`${server.base}/api/health`);
      await res.text();
      return Date.now() - t;
    };
    await health();
    for (let i = 0; i < 50; i++) {
      const c = net.connect(server.port, '127.0.0.1');
      sockets.push(c);
      c.on('error', () => {});
      c.once('connect', () => {
        c.pause();
        c.write('GET /api/metrics/unread?format=csv HTTP/1.1\r\nHost: x\r\n\r\n');
      });
    }
    await new Promise((r) => setTimeout(r, 50));
    const latencies: number[] = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      latencies.push(await health());
      await new Promise((r) => setTimeout(r, 50));
    }
    const worst = Math.max(...latencies);
    assert.ok(
      worst < 1000,
      `worst /api/health ${worst} ms during 50 unread exports: ${latencies.join(', ')}`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
});
