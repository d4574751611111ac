// An embedded store file written before sessions were stored (no session columns, no summary
// tables) is migrated when opened: every event gets its session, testbed re-runs are split,
// and the summaries exist. Also the `rebuild-summaries` command as a child process. Starts
// libsql on a temp file and the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'libsql';
import { configFrom } from '../../src/config/index.ts';
import { createStore } from '../../src/store/index.ts';

/** The table as the first release created it. */
const OLD_SCHEMA = `
CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, experiment_id TEXT NOT NULL, event_id TEXT,
  timestamp REAL NOT NULL, event_type TEXT NOT NULL, session_id TEXT, video_id TEXT NOT NULL,
  stored_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX events_exp_ts ON events(experiment_id, timestamp, id);
CREATE UNIQUE INDEX events_exp_event_id ON events(experiment_id, event_id) WHERE event_id IS NOT NULL;`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function oldFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-migrate-'));
  dirs.push(dir);
  const db = new Database(path.join(dir, 'stats.db'));
  db.exec(OLD_SCHEMA);
  const ins = db.prepare(
    'INSERT INTO events (id, experiment_id, timestamp, event_type, session_id, video_id, stored_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let n = 0;
  const add = (t: number, type: string, extra: Record<string, unknown> = {}) => {
    const doc = {
      experiment_id: 'old',
      timestamp: t,
      event_type: type,
      protocol: 'dash',
      video_id: 'm.mpd',
      payload: { n: ++n, ...(extra.payload as object) },
      ...(extra.session_id ? { session_id: extra.session_id } : {}),
    };
    ins.run(
      (1e23 + n).toString(16).padStart(24, '0').slice(-24),
      'old',
      t,
      type,
      (extra.session_id as string) ?? null,
      'm.mpd',
      new Date().toISOString(),
      JSON.stringify(doc),
    );
  };
  for (const run of [0, 1]) {
    add(1000 + run * 100, 'stream_initialized');
    add(1001 + run * 100, 'periodic_metrics');
    add(1002 + run * 100, 'periodic_metrics', { payload: { session_id: 5 } });
  }
  add(1050, 'play_requested', { session_id: 'x' });
  db.close();
  return dir;
}

test('a file of the first release is migrated at open: sessions stored, runs split', async () => {
  const dir = oldFile();
  const store = createStore(configFrom({ STORAGE: 'sqlite', DATA_DIR: dir }));
  await store.open();
  try {
    const sessions = await store.listSessions('old');
    assert.deepEqual(
      sessions.map((s) => [s.session_id, s.count]),
      [
        ['m.mpd', 3],
        ['x', 1],
        ['m.mpd#2', 3],
      ],
    );
    const run2: string[] = [];
    for await (const page of store.readEvents({ experimentId: 'old', session: 'm.mpd#2' }))
      for (const e of page) run2.push(`${e.timestamp}:${e.session_key}`);
    assert.deepEqual(run2, ['1100:m.mpd#2', '1101:m.mpd#2', '1102:m.mpd#2']);
    const [exp] = await store.listExperiments();
    assert.deepEqual([exp?.experiment_id, exp?.count, exp?.sessions], ['old', 7, 3]);
  } finally {
    await store.close();
  }
});

test('stats-server rebuild-summaries recomputes one experiment or all', () => {
  const dir = oldFile();
  const env = { ...process.env, STORAGE: 'sqlite', DATA_DIR: dir, LOG_LEVEL: 'silent' };
  const cli = path.resolve(import.meta.dirname, '../../src/cli.ts');
  const one = spawnSync(process.execPath, ['--import', 'tsx', cli, 'rebuild-summaries', 'old'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stderr, /rebuilt 3 sessions of 1 experiment\(s\) from 7 events/);
  const all = spawnSync(process.execPath, ['--import', 'tsx', cli, 'backfill-sessions'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(all.status, 0, all.stderr);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', cli, 'rebuild-summaries', 'a b'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
});
