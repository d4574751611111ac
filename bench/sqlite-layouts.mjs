// What each embedded-store layout costs per event, with nothing else in the way: libsql on a
// temp file, no server, no threads. The bench event (64 sessions) in groups, one IMMEDIATE
// transaction each, timed by phase (microseconds per event). Layouts:
//   previous  the events table of 9cd352d (no sessions)
//   in-group  e8717b2: a (experiment, session, timestamp) index on events and one summary
//             upsert per session in every group
//   folded    this code: events alone; every `fold` events, one transaction adds them to
//             session_events (in seq order) and upserts the summaries of the sessions folded
// Usage: node bench/sqlite-layouts.mjs <layout> [group=32] [events=40000] [fold=3200]
// (SYNC=NORMAL to leave fsync out). Results: BENCHMARKS.md, "Ingest against the previous landing".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'libsql';
import { benchEvent } from './events.mjs';

const [layout = 'folded', g = '32', n = '40000', f = '3200'] = process.argv.slice(2);
const G = Number(g);
const N = Number(n);
const FOLD = Number(f);
if (!['previous', 'in-group', 'folded'].includes(layout)) throw new Error(`unknown layout ${layout}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layouts-'));
const db = new Database(path.join(dir, 'x.db'));
db.exec('PRAGMA journal_mode = WAL');
db.exec(`PRAGMA synchronous = ${process.env.SYNC ?? 'FULL'}`);
const sessions = layout !== 'previous';
db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, experiment_id TEXT NOT NULL,
  event_id TEXT, timestamp REAL NOT NULL, event_type TEXT NOT NULL, session_id TEXT, video_id TEXT NOT NULL,
  stored_at TEXT NOT NULL, doc TEXT NOT NULL${sessions ? ', session_key TEXT, session_base TEXT' : ''});
CREATE INDEX events_exp_ts ON events(experiment_id, timestamp, id);
CREATE INDEX events_exp_type_ts ON events(experiment_id, event_type, timestamp, id);
CREATE UNIQUE INDEX events_exp_event_id ON events(experiment_id, event_id) WHERE event_id IS NOT NULL;`);
if (sessions) {
  db.exec(`CREATE INDEX events_exp_base ON events(experiment_id, session_base, timestamp, event_type)
    WHERE session_base IS NOT NULL;
  CREATE TABLE sessions (experiment_id TEXT NOT NULL, session_key TEXT NOT NULL, count INTEGER NOT NULL,
    first_ts REAL NOT NULL, last_ts REAL NOT NULL, version INTEGER NOT NULL, changed_at REAL NOT NULL,
    stale INTEGER NOT NULL DEFAULT 1, qoe TEXT, PRIMARY KEY (experiment_id, session_key)) WITHOUT ROWID;
  CREATE INDEX sessions_stale ON sessions(changed_at) WHERE stale = 1;`);
}
if (layout === 'in-group')
  db.exec('CREATE INDEX events_exp_session ON events(experiment_id, session_key, timestamp)');
if (layout === 'folded') {
  db.exec(`CREATE TABLE session_events (experiment_id TEXT NOT NULL, session_key TEXT NOT NULL,
    timestamp REAL NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, session_key, timestamp, id)) WITHOUT ROWID`);
}
const cols = `id, experiment_id, event_id, timestamp, event_type, session_id, video_id, stored_at, doc${sessions ? ', session_key, session_base' : ''}`;
const insert = db.prepare(
  `INSERT INTO events (${cols}) VALUES (${cols.split(',').map(() => '?')}) ON CONFLICT DO NOTHING`,
);
const upsert = !sessions
  ? undefined
  : db.prepare(`INSERT INTO sessions (experiment_id, session_key, count, first_ts, last_ts, version, changed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, session_key) DO UPDATE SET
    count = count + excluded.count, first_ts = MIN(first_ts, excluded.first_ts),
    last_ts = MAX(last_ts, excluded.last_ts), version = excluded.version, changed_at = excluded.changed_at, stale = 1`);
const index =
  layout !== 'folded'
    ? undefined
    : db.prepare(`INSERT INTO session_events SELECT experiment_id, session_key, timestamp, id, seq FROM events
    WHERE seq > ?`);

const T = { insert: 0, upsert: 0, commit: 0, fold: 0 };
let ids = 0;
let version = 0;
let folded = 0;
let pending = new Map();
/** Adds events to per-session deltas (count, span), as a summary fold does. */
function add(deltas, d) {
  const x = deltas.get(d.session_id);
  if (x) {
    x[2]++;
    x[4] = Math.max(x[4], d.timestamp);
  } else deltas.set(d.session_id, [d.experiment_id, d.session_id, 1, d.timestamp, d.timestamp]);
}
const upsertAll = (deltas) => {
  for (const x of deltas.values()) upsert?.run(...x, ++version, Date.now() / 1000);
};

function group(i0) {
  const docs = Array.from({ length: G }, (_, k) => benchEvent('r', i0 + k));
  db.exec('BEGIN IMMEDIATE');
  const t0 = performance.now();
  for (const d of docs) {
    /** @type {Array<string | number | null | undefined>} */
    const row = [String(++ids).padStart(24, '0'), d.experiment_id, d.event_id, d.timestamp, d.event_type];
    row.push(d.session_id, d.video_id, '2026-12-01T00:00:00.000Z', JSON.stringify(d));
    if (sessions) row.push(d.session_id, null);
    insert.run(...row);
  }
  const t1 = performance.now();
  if (layout === 'in-group') {
    const deltas = new Map();
    for (const d of docs) add(deltas, d);
    upsertAll(deltas);
  }
  if (layout === 'folded') for (const d of docs) add(pending, d);
  const t2 = performance.now();
  db.exec('COMMIT');
  const t3 = performance.now();
  T.insert += t1 - t0;
  T.upsert += t2 - t1;
  T.commit += t3 - t2;
  if (layout === 'folded' && ids - folded >= FOLD) {
    db.exec('BEGIN IMMEDIATE');
    index?.run(folded);
    upsertAll(pending);
    db.exec('COMMIT');
    T.fold += performance.now() - t3;
    pending = new Map();
    folded = ids;
  }
}

let i = 0;
for (; i < 5000; i += G) group(i); // warm-up
for (const k of Object.keys(T)) T[k] = 0;
const start = performance.now();
for (let done = 0; done < N; done += G, i += G) group(i);
const seconds = (performance.now() - start) / 1000;
const us = (v) => ((v * 1000) / N).toFixed(1);
console.log(
  `${layout} group ${G}: ${Math.round(N / seconds)} events/s; µs/event insert ${us(T.insert)}, summary upserts ${us(T.upsert)}, commit ${us(T.commit)}, fold ${us(T.fold)}`,
);
db.close();
fs.rmSync(dir, { recursive: true, force: true });
