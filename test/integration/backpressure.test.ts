// Backpressure and outages through app.inject() on real stores: a full ingest queue and an
// unreachable store answer 503 + Retry-After, the app keeps serving, nothing answered 200 is
// missing and nothing answered 503 OVERLOADED is stored. SQLite is made "busy" by another
// connection holding the write lock; MongoDB (MONGO_URL) sits behind an in-test TCP proxy
// that is paused (partition) or closed (server gone).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import Database from 'libsql';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import { SQLITE_FILE } from '../../src/store/index.ts';
import { MONGO_URL, mongoSkip } from '../helpers/env.ts';
import { dashEvent } from '../helpers/events.ts';
import { mongoFixture, mongoUrlWith, sqliteFixture } from '../helpers/stores.ts';
import { hostPortOf, TcpProxy, viaProxy } from '../helpers/tcp-proxy.ts';
import { scaled, waitUntil } from '../helpers/wait.ts';

const submit = (app: FastifyInstance, exp: string, i: number) =>
  app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent(exp, i, { event_id: `e${i}` }) });

async function storedIds(app: FastifyInstance, exp: string): Promise<Set<string>> {
  const res = await app.inject({ method: 'GET', url: `/api/metrics/${exp}` });
  assert.equal(res.statusCode, 200, res.body);
  return new Set(res.json().metrics.map((m: { event_id: string }) => m.event_id));
}

/** Resolves once `n` of the promises have settled (bounded by `idleMs`, scaled by the load). */
async function settledCount<T>(promises: Promise<T>[], n: number, idleMs: number): Promise<void> {
  const ms = scaled(idleMs);
  let done = 0;
  await Promise.race([
    new Promise<void>((resolve) => {
      for (const p of promises)
        p.finally(() => {
          if (++done >= n) resolve();
        }).catch(() => {});
    }),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`Timeout waiting for ${n} replies after ${ms} ms, got ${done}`)), ms),
    ),
  ]);
}

const reply = (res: LightMyRequestResponse) => `${res.statusCode} ${res.body}`;

function assert503(res: LightMyRequestResponse, code: string) {
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.json().code, code);
  assert.match(String(res.headers['retry-after']), /^\d+$/);
}

/** Every 200 stored, every OVERLOADED not stored; returns the replies' codes for more checks. */
async function checkAccounting(app: FastifyInstance, exp: string, replies: LightMyRequestResponse[]) {
  const ids = await storedIds(app, exp);
  const codes: string[] = [];
  replies.forEach((res, i) => {
    if (res.statusCode === 200) {
      assert.ok(ids.has(`e${i}`), `e${i} was acknowledged but is not stored`);
      codes.push('OK');
    } else {
      assert.equal(res.statusCode, 503, res.body);
      const code = res.json().code as string;
      if (code === 'OVERLOADED') assert.ok(!ids.has(`e${i}`), `e${i} was refused but is stored`);
      codes.push(code);
    }
  });
  return { ids, codes };
}

{
  describe('backpressure on sqlite', () => {
    const fixture = sqliteFixture();
    after(() => fixture.cleanup());

    /** Another connection holding the write lock, as a backup or a sqlite3 shell would. */
    function lockDatabase(config: Readonly<Config>) {
      const db = new Database(`${config.dataDir}/${SQLITE_FILE}`);
      db.exec('BEGIN IMMEDIATE');
      return () => {
        db.exec('ROLLBACK');
        db.close();
      };
    }

    test('a write lock held too long is a 503 STORE_UNAVAILABLE while the app keeps answering', async () => {
      const config = fixture.config();
      const app = await buildApp(config);
      try {
        assert.equal((await submit(app, 'bp_lock', 0)).statusCode, 200);
        const unlock = lockDatabase(config);
        const t0 = Date.now();
        let settled = false;
        const waiting = submit(app, 'bp_lock', 1).finally(() => {
          settled = true;
        });
        // The write waits for the lock without blocking the event loop: health keeps answering
        // meanwhile. A write that blocked the loop would let at most one health reply through.
        let answered = 0;
        while (!settled) {
          const health = await app.inject({ method: 'GET', url: '/api/health' });
          assert.equal(health.statusCode, 200);
          if (!settled) answered++;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(answered >= 3, `health answered ${answered} times while the write waited for the lock`);
        // Lower bounds only (safe under load): it waited out SQLite's 5-s busy timeout.
        const waitedMs = Date.now() - t0;
        assert.ok(waitedMs >= 4000, `the write gave up after ${waitedMs} ms, before the 5-s busy timeout`);
        assert503(await waiting, 'STORE_UNAVAILABLE');
        unlock();
        assert.equal((await submit(app, 'bp_lock', 2)).statusCode, 200);
        assert.deepEqual([...(await storedIds(app, 'bp_lock'))].sort(), ['e0', 'e2']);
      } finally {
        await app.close();
      }
    });

    test('a full queue answers 503 OVERLOADED at once; queued events are stored once the lock is released', async () => {
      const config = fixture.config({
        INGEST_MAX_QUEUED_EVENTS: '5',
        INGEST_BATCH_MAX_EVENTS: '5',
      });
      const app = await buildApp(config);
      try {
        const unlock = lockDatabase(config);
        const pending = Array.from({ length: 20 }, (_, i) => submit(app, 'bp_full', i));
        await settledCount(pending, 15, 5000); // the refusals come back while the lock is held
        unlock();
        const replies = await Promise.all(pending);
        const { codes } = await checkAccounting(app, 'bp_full', replies);
        assert.equal(codes.filter((c) => c === 'OK').length, 5);
        assert.equal(codes.filter((c) => c === 'OVERLOADED').length, 15);
        for (const r of replies) if (r.statusCode === 503) assert503(r, 'OVERLOADED');
      } finally {
        await app.close();
      }
    });
  });
}

describe('backpressure on mongodb', { skip: mongoSkip }, () => {
  const fixture = mongoFixture();
  let proxy: TcpProxy;
  before(async () => {
    const target = hostPortOf(MONGO_URL ?? 'mongodb://127.0.0.1:1/');
    proxy = new TcpProxy(target.host, target.port);
    await proxy.up();
  });
  after(async () => {
    await proxy?.down();
    await fixture.cleanup();
  });

  const configVia = (overrides: Record<string, string>, urlOptions: Record<string, number> = {}) =>
    fixture.config({
      ...overrides,
      MONGO_URL: mongoUrlWith(viaProxy(MONGO_URL ?? 'mongodb://127.0.0.1:1/', proxy.port), {
        serverSelectionTimeoutMS: scaled(800),
        ...urlOptions,
      }),
    });

  test('a MongoDB that is gone is a 503 STORE_UNAVAILABLE; writes work again when it is back', async () => {
    const app = await buildApp(configVia({}));
    try {
      assert.equal((await submit(app, 'bp_gone', 0)).statusCode, 200);
      await proxy.down();
      assert503(await submit(app, 'bp_gone', 1), 'STORE_UNAVAILABLE');
      const health = await app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(health.statusCode, 503);
      await proxy.up();
      // The driver reconnects on its own; until then the same event is refused and retried.
      await waitUntil(
        () => submit(app, 'bp_gone', 2),
        (res) => res.statusCode === 200,
        { what: 'a write to succeed once MongoDB is back', timeoutMs: 10_000, intervalMs: 250, show: reply },
      );
      const ids = await storedIds(app, 'bp_gone');
      assert.ok(ids.has('e0') && ids.has('e2'));
    } finally {
      await proxy.up().catch(() => {});
      await app.close();
    }
  });

  test('a partition fills the queue: 503 OVERLOADED at once, queued events stored after it heals', async () => {
    const app = await buildApp(
      configVia({ INGEST_MAX_QUEUED_EVENTS: '5', INGEST_BATCH_MAX_EVENTS: '5' }, { socketTimeoutMS: 20_000 }),
    );
    try {
      assert.equal((await submit(app, 'bp_part', 100)).statusCode, 200); // collection and indexes exist
      proxy.pause();
      const pending = Array.from({ length: 20 }, (_, i) => submit(app, 'bp_part', i));
      await settledCount(pending, 15, 5000);
      proxy.resume();
      const replies = await Promise.all(pending);
      const { codes } = await checkAccounting(app, 'bp_part', replies);
      assert.equal(codes.filter((c) => c === 'OK').length, 5);
      assert.equal(codes.filter((c) => c === 'OVERLOADED').length, 15);
    } finally {
      proxy.resume();
      await app.close();
    }
  });

  test('a partition longer than the socket timeout is a 503, not a hang; retries are stored once', async () => {
    const app = await buildApp(configVia({}, { socketTimeoutMS: 1000 }));
    try {
      assert.equal((await submit(app, 'bp_long', 100)).statusCode, 200);
      proxy.pause();
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => submit(app, 'bp_long', i)));
      for (const r of replies) assert503(r, 'STORE_UNAVAILABLE');
      proxy.resume();
      // Retrying the refused events (same event_ids) stores each exactly once.
      for (let i = 0; i < 10; i++) {
        await waitUntil(
          () => submit(app, 'bp_long', i),
          (res) => res.statusCode === 200,
          {
            what: `the retry of e${i} to be stored after the partition`,
            timeoutMs: 10_000,
            intervalMs: 250,
            show: reply,
          },
        );
      }
      const res = await app.inject({ method: 'GET', url: '/api/metrics/bp_long' });
      assert.equal(res.json().count, 11);
    } finally {
      proxy.resume();
      await app.close();
    }
  });
});
