// N16: while another process holds the SQLite write lock, a submit waits at most the
// documented lock wait (SQLITE_BUSY_TIMEOUT_MS, fixed at 5 s; 1 s here) before its 503, also
// when it queues behind another write (a DELETE) that is itself waiting for the lock. Builds
// the app on a temp SQLite file; the "other process" is a second libsql connection.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'libsql';
import { buildApp } from '../../src/app.ts';
import { dashEvent } from '../helpers/events.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const fixture = sqliteFixture();
after(() => fixture.cleanup());

const WAIT_MS = 1000;

test('a submit queued behind a write waiting for the lock waits at most the lock wait', async () => {
  const config = fixture.config({ SQLITE_BUSY_TIMEOUT_MS: String(WAIT_MS), ADMIN_TOKEN: 'a'.repeat(20) });
  const app = await buildApp(config);
  after(() => app.close());
  const first = await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('lock', 1) });
  assert.equal(first.statusCode, 200);

  const other = new Database(path.join(config.dataDir, 'stats.db'));
  other.exec('PRAGMA busy_timeout = 0');
  other.exec('BEGIN IMMEDIATE');
  try {
    const del = app.inject({
      method: 'DELETE',
      url: '/api/experiments/lock',
      headers: { authorization: `Bearer ${'a'.repeat(20)}` },
    });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const sub = await app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('other', 2) });
    const took = Date.now() - t0;
    assert.equal(sub.statusCode, 503, sub.body);
    assert.equal(sub.json().code, 'STORE_UNAVAILABLE');
    assert.ok(took < WAIT_MS + 300, `the submit waited ${took} ms (lock wait ${WAIT_MS} ms)`);
    assert.equal((await del).statusCode, 503);
  } finally {
    other.exec('ROLLBACK');
    other.close();
  }
});
