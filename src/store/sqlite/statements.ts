/** The prepared statements of the embedded store's write path (write-ops.ts, runs-sql.ts). */
import type Database from 'libsql';
import { INSERT_SQL } from './rows.ts';
import { BY_BASE, KIND_RUN } from './schema.ts';

type Db = InstanceType<typeof Database>;

export interface Stmt {
  run(...p: unknown[]): { changes: number };
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
  iterate(...p: unknown[]): Iterable<unknown>;
}

/** The columns of a summary row, in the order `upsert` and `insertRow` take them. */
export const ROW_COLUMNS = `experiment_id, session_key, kind, base_key, run_no, source, count, first_ts, first_id,
  last_ts, video_id, video_at, video_ref, first_protocol, known_protocol, known_at, known_ref, version, changed_at`;

/** The events of a split base as the run split reads them (roles come from type and payload). */
const GROUP_COLUMNS = `timestamp, event_type, json_extract(doc, '$.payload.type') AS ptype,
  json_extract(doc, '$.payload.buffer_level') AS bl`;

export type Statements = Record<
  | 'insert'
  | 'known'
  | 'upsert'
  | 'insertRow'
  | 'getRun'
  | 'types'
  | 'runs'
  | 'tail'
  | 'before'
  | 'from'
  | 'rekeyTo'
  | 'rekeyOpen'
  | 'spanTo'
  | 'spanOpen'
  | 'dropRow'
  | 'saveQoe'
  | 'mark'
  | 'newest'
  | 'setMark'
  | 'lowerMark'
  | 'indexTail'
  | 'compactTail',
  Stmt
>;

export function prepareStatements(db: Db): Statements {
  const p = (sql: string) => db.prepare(sql) as unknown as Stmt;
  return {
    insert: p(INSERT_SQL),
    known: p('SELECT 1 AS one FROM events WHERE experiment_id = ? AND event_id = ?'),
    // Merging a delta: counts add up, the earliest event (ties: the smaller id) gives the first
    // protocol, the video and the known protocol (src/sessions/summary.ts is the rule).
    upsert: p(`INSERT INTO sessions (${ROW_COLUMNS}, stale)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
      ON CONFLICT (experiment_id, session_key, kind) DO UPDATE SET
        count = count + excluded.count,
        video_id = CASE WHEN excluded.video_at IS NOT NULL AND (video_at IS NULL OR excluded.video_at < video_at
            OR (excluded.video_at = video_at AND excluded.video_ref < video_ref))
          THEN excluded.video_id ELSE video_id END,
        video_ref = CASE WHEN excluded.video_at IS NOT NULL AND (video_at IS NULL OR excluded.video_at < video_at
            OR (excluded.video_at = video_at AND excluded.video_ref < video_ref))
          THEN excluded.video_ref ELSE video_ref END,
        video_at = CASE WHEN excluded.video_at IS NOT NULL AND (video_at IS NULL OR excluded.video_at < video_at)
          THEN excluded.video_at ELSE video_at END,
        first_protocol = CASE WHEN excluded.first_ts < first_ts
            OR (excluded.first_ts = first_ts AND excluded.first_id < first_id)
          THEN excluded.first_protocol ELSE first_protocol END,
        first_id = CASE WHEN excluded.first_ts < first_ts
            OR (excluded.first_ts = first_ts AND excluded.first_id < first_id)
          THEN excluded.first_id ELSE first_id END,
        first_ts = MIN(first_ts, excluded.first_ts),
        last_ts = MAX(last_ts, excluded.last_ts),
        known_protocol = CASE WHEN excluded.known_at IS NOT NULL AND (known_at IS NULL OR excluded.known_at < known_at
            OR (excluded.known_at = known_at AND excluded.known_ref < known_ref))
          THEN excluded.known_protocol ELSE known_protocol END,
        known_ref = CASE WHEN excluded.known_at IS NOT NULL AND (known_at IS NULL OR excluded.known_at < known_at
            OR (excluded.known_at = known_at AND excluded.known_ref < known_ref))
          THEN excluded.known_ref ELSE known_ref END,
        known_at = CASE WHEN excluded.known_at IS NOT NULL AND (known_at IS NULL OR excluded.known_at < known_at)
          THEN excluded.known_at ELSE known_at END,
        version = excluded.version, changed_at = excluded.changed_at, stale = 1`),
    insertRow: p(`INSERT INTO sessions (${ROW_COLUMNS}, stale, qoe)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getRun: p(`SELECT ${ROW_COLUMNS}, stale, qoe FROM sessions
      WHERE experiment_id = ? AND session_key = ? AND kind = ${KIND_RUN}`),
    types: p('INSERT OR IGNORE INTO experiment_types (experiment_id, event_type) VALUES (?, ?)'),
    runs: p(`SELECT first_ts, last_ts FROM sessions WHERE experiment_id = ? AND base_key = ? AND kind = ${KIND_RUN}
      ORDER BY first_ts`),
    // Groups of a base for the run split: its newest events, those before t, those from t on.
    tail: p(`SELECT ${GROUP_COLUMNS} FROM ${BY_BASE} WHERE experiment_id = ? AND session_base = ?
      ORDER BY timestamp DESC LIMIT ?`),
    before: p(`SELECT ${GROUP_COLUMNS} FROM ${BY_BASE} WHERE experiment_id = ? AND session_base = ?
      AND timestamp < ? ORDER BY timestamp DESC LIMIT ?`),
    from: p(`SELECT ${GROUP_COLUMNS} FROM ${BY_BASE} WHERE experiment_id = ? AND session_base = ?
      AND timestamp >= ? ORDER BY timestamp LIMIT ?`),
    rekeyTo: p(`UPDATE events SET session_key = ? WHERE experiment_id = ? AND session_base = ?
      AND timestamp >= ? AND timestamp < ?`),
    rekeyOpen: p(
      `UPDATE events SET session_key = ? WHERE experiment_id = ? AND session_base = ? AND timestamp >= ?`,
    ),
    // One run's events, to make its summary again.
    spanTo: p(`SELECT id, timestamp, video_id, json_extract(doc, '$.protocol') AS protocol FROM ${BY_BASE}
      WHERE experiment_id = ? AND session_base = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp, id`),
    spanOpen: p(`SELECT id, timestamp, video_id, json_extract(doc, '$.protocol') AS protocol FROM ${BY_BASE}
      WHERE experiment_id = ? AND session_base = ? AND timestamp >= ? ORDER BY timestamp, id`),
    dropRow: p('DELETE FROM sessions WHERE experiment_id = ? AND session_key = ? AND kind = ?'),
    saveQoe: p(
      `UPDATE sessions SET qoe = ?, stale = 0 WHERE experiment_id = ? AND session_key = ? AND version = ?`,
    ),
    // The compaction (compaction.ts).
    mark: p('SELECT seq FROM compacted WHERE one = 1'),
    newest: p('SELECT MAX(seq) AS m FROM events'),
    setMark: p('UPDATE compacted SET seq = ? WHERE one = 1'),
    lowerMark: p(
      'UPDATE compacted SET seq = MIN(seq, IFNULL((SELECT MAX(seq) FROM events), 0)) WHERE one = 1',
    ),
    // In seq order: sorting first into index order cost more than it saved (BENCHMARKS.md).
    indexTail: p(`INSERT OR REPLACE INTO session_events (experiment_id, session_key, timestamp, id, seq)
      SELECT experiment_id, session_key, timestamp, id, seq FROM events
      WHERE seq > ? AND seq <= ? AND session_key IS NOT NULL AND session_base IS NULL`),
    compactTail:
      p(`SELECT id, experiment_id, session_key, timestamp, video_id, json_extract(doc, '$.protocol') AS protocol
      FROM events WHERE seq > ? AND seq <= ? AND session_key IS NOT NULL AND session_base IS NULL ORDER BY seq`),
  };
}
