// The embedded store folds events into session summaries and the session index after their own
// commit (src/store/sqlite/compaction.ts). These tests reach the cases the fold's bookkeeping
// must survive: two writers on one file (a WORKERS=n instance), events stored right after the
// newest rows were deleted (SQLite then reuses their seqs), and a file whose session index is
// still inside the events table (schema 1). Each opens real SQLite files in a temp directory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'libsql';
import { configFrom } from '../../src/config/index.ts';
import type { EventDoc } from '../../src/events/schema.ts';
import { createStore } from '../../src/store/index.ts';
import type { EventStore } from '../../src/store/types.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-compaction-'));
  dirs.push(dir);
  return dir;
}

const open = async (dir: string): Promise<EventStore> => {
  const store = createStore(configFrom({ DATA_DIR: dir, TIMESTAMP_CHECK: 'off' }));
  await store.open();
  return store;
};

function ev(exp: string, session: string, t: number, videoId = 'v.mpd'): EventDoc {
  return {
    experiment_id: exp,
    timestamp: t,
    event_type: 'periodic_metrics',
    protocol: 'dash',
    video_id: videoId,
    session_id: session,
    payload: { t },
    stored_at: new Date(),
  };
}

/** Counts and spans from the summaries, and the events each session's indexed read returns. */
async function sessionsOf(store: EventStore, exp: string) {
  const out: Record<string, { count: number; first: number; last: number; read: number }> = {};
  for (const s of await store.listSessions(exp)) {
    let read = 0;
    for await (const page of store.readEvents({ experimentId: exp, session: s.session_id }))
      read += page.length;
    out[s.session_id] = { count: s.count, first: s.first_timestamp, last: s.last_timestamp, read };
  }
  return out;
}

test('two writers on one file: summaries and per-session reads hold every event of both', async () => {
  const dir = dataDir();
  const a = await open(dir);
  const b = await open(dir);
  try {
    // Interleaved groups into the same sessions; each writer's in-memory fold is only valid
    // while it alone wrote after the mark, which these writes keep breaking.
    for (let i = 0; i < 40; i++) {
      const w = i % 3 === 0 ? b : a;
      await w.insertMany([ev('two', `s${i % 4}`, 1000 + i), ev('two', `s${(i + 1) % 4}`, 2000 + i)]);
    }
    const fromA = await sessionsOf(a, 'two');
    const fromB = await sessionsOf(b, 'two');
    assert.deepEqual(fromA, fromB);
    const want: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      want[`s${i % 4}`] = (want[`s${i % 4}`] ?? 0) + 1;
      want[`s${(i + 1) % 4}`] = (want[`s${(i + 1) % 4}`] ?? 0) + 1;
    }
    for (const [k, n] of Object.entries(want)) {
      assert.equal(fromA[k]?.count, n, `summary of ${k}`);
      assert.equal(fromA[k]?.read, n, `indexed read of ${k}`);
    }
    assert.equal(
      Object.values(fromA).reduce((s, x) => s + x.count, 0),
      80,
    );
  } finally {
    await a.close();
    await b.close();
  }
});

test('events stored after the newest ones were deleted are folded (their seqs are reused)', async () => {
  const dir = dataDir();
  const store = await open(dir);
  try {
    await store.insertMany([ev('keep', 'k', 1000), ev('keep', 'k', 1001)]);
    await store.insertMany(Array.from({ length: 50 }, (_, i) => ev('gone', 'g', 2000 + i)));
    assert.equal((await store.listSessions('gone'))[0]?.count, 50);
    assert.equal(await store.deleteExperiment('gone'), 50);
    // SQLite gives these rows the seqs the deleted ones had.
    await store.insertMany(Array.from({ length: 10 }, (_, i) => ev('after', 'a', 3000 + i)));
    assert.deepEqual(await sessionsOf(store, 'after'), {
      a: { count: 10, first: 3000, last: 3009, read: 10 },
    });
    assert.deepEqual(await sessionsOf(store, 'gone'), {});
    assert.deepEqual(await sessionsOf(store, 'keep'), { k: { count: 2, first: 1000, last: 1001, read: 2 } });
  } finally {
    await store.close();
  }
});

test('a schema-1 file (session index inside the events table) opens with every session readable', async () => {
  const dir = dataDir();
  let store = await open(dir);
  await store.insertMany([ev('v1', 'x', 1000), ev('v1', 'x', 1001), ev('v1', 'y', 1002)]);
  await store.listSessions('v1'); // folded
  await store.close();
  // Back to the layout of schema 1: no separate index, no mark, the index on events.
  const db = new Database(path.join(dir, 'stats.db'));
  db.exec(`DROP TABLE session_events; DROP TABLE compacted;
    CREATE INDEX events_exp_session ON events(experiment_id, session_key, timestamp);
    PRAGMA user_version = 1;`);
  db.close();

  store = await open(dir);
  try {
    assert.deepEqual(await sessionsOf(store, 'v1'), {
      x: { count: 2, first: 1000, last: 1001, read: 2 },
      y: { count: 1, first: 1002, last: 1002, read: 1 },
    });
    await store.insertMany([ev('v1', 'x', 1003)]);
    assert.equal((await sessionsOf(store, 'v1')).x?.read, 3);
  } finally {
    await store.close();
  }
  const after2 = new Database(path.join(dir, 'stats.db'), { readonly: true });
  try {
    const version = after2.prepare('PRAGMA user_version').get() as { user_version: number };
    assert.equal(version.user_version, 3);
    const old = after2.prepare("SELECT name FROM sqlite_master WHERE name = 'events_exp_session'").get();
    assert.equal(old, undefined, 'the old index is dropped');
  } finally {
    after2.close();
  }
});
