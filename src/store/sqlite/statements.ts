/** The prepared statements of the embedded store's write path (write-ops.ts). */
import type Database from 'libsql';
import { RUN_START_EVENT } from '../../sessions/key.ts';
import { CMCD_PROTOCOL, UNKNOWN_VIDEO } from '../../sessions/summary.ts';
import { INSERT_SQL } from './rows.ts';
import { BY_BASE } from './schema.ts';

type Db = InstanceType<typeof Database>;

export interface Stmt {
  run(...p: unknown[]): { changes: number };
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
  iterate(...p: unknown[]): Iterable<unknown>;
}

export type Statements = Record<
  | 'insert'
  | 'upsert'
  | 'types'
  | 'runs'
  | 'pred'
  | 'succ'
  | 'at'
  | 'rekeyTo'
  | 'rekeyOpen'
  | 'rekeyIndexTo'
  | 'rekeyIndexOpen'
  | 'count'
  | 'first'
  | 'video'
  | 'known'
  | 'dropRow'
  | 'saveQoe'
  | 'mark'
  | 'newest'
  | 'setMark'
  | 'lowerMark'
  | 'indexTail'
  | 'tail',
  Stmt
>;

export function prepareStatements(db: Db): Statements {
  const p = (sql: string) => db.prepare(sql) as unknown as Stmt;
  return {
    insert: p(INSERT_SQL),
    upsert: p(`INSERT INTO sessions (experiment_id, session_key, base_key, run_no, source, count, first_ts,
        last_ts, video_id, video_at, first_protocol, known_protocol, known_at, version, changed_at, stale)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
      ON CONFLICT (experiment_id, session_key) DO UPDATE SET
        count = count + excluded.count,
        video_id = CASE WHEN excluded.video_at IS NOT NULL AND (video_at IS NULL OR excluded.video_at < video_at)
          THEN excluded.video_id ELSE video_id END,
        video_at = CASE WHEN excluded.video_at IS NOT NULL AND (video_at IS NULL OR excluded.video_at < video_at)
          THEN excluded.video_at ELSE video_at END,
        first_protocol = CASE WHEN excluded.first_ts < first_ts THEN excluded.first_protocol ELSE first_protocol END,
        first_ts = MIN(first_ts, excluded.first_ts),
        last_ts = MAX(last_ts, excluded.last_ts),
        known_protocol = CASE WHEN excluded.known_at IS NOT NULL AND (known_at IS NULL OR excluded.known_at < known_at)
          THEN excluded.known_protocol ELSE known_protocol END,
        known_at = CASE WHEN excluded.known_at IS NOT NULL AND (known_at IS NULL OR excluded.known_at < known_at)
          THEN excluded.known_at ELSE known_at END,
        version = excluded.version, changed_at = excluded.changed_at, stale = 1`),
    types: p('INSERT OR IGNORE INTO experiment_types (experiment_id, event_type) VALUES (?, ?)'),
    runs: p(
      `SELECT first_ts, last_ts FROM sessions WHERE experiment_id = ? AND base_key = ? ORDER BY first_ts`,
    ),
    pred: p(
      `SELECT MAX(timestamp) AS t FROM events WHERE experiment_id = ? AND session_base = ? AND timestamp < ?`,
    ),
    succ: p(
      `SELECT MIN(timestamp) AS t FROM events WHERE experiment_id = ? AND session_base = ? AND timestamp > ?`,
    ),
    at: p(`SELECT COUNT(*) AS n, SUM(event_type = '${RUN_START_EVENT}') AS s FROM events
      WHERE experiment_id = ? AND session_base = ? AND timestamp = ?`),
    rekeyTo: p(`UPDATE events SET session_key = ? WHERE experiment_id = ? AND session_base = ?
      AND timestamp >= ? AND timestamp < ?`),
    rekeyOpen: p(
      `UPDATE events SET session_key = ? WHERE experiment_id = ? AND session_base = ? AND timestamp >= ?`,
    ),
    // Session ids that moved: the compacted part of session_events follows (rows of one old run key).
    rekeyIndexTo: p(`UPDATE session_events SET session_key = ? WHERE experiment_id = ? AND session_key = ?
      AND timestamp >= ? AND timestamp < ?`),
    rekeyIndexOpen: p(`UPDATE session_events SET session_key = ? WHERE experiment_id = ? AND session_key = ?
      AND timestamp >= ?`),
    // One run of a split base (experiment, base, run id), through the base index.
    count: p(`SELECT COUNT(*) AS n, MIN(timestamp) AS first, MAX(timestamp) AS last FROM ${BY_BASE}
      WHERE experiment_id = ? AND session_base = ? AND session_key = ?`),
    video: p(`SELECT video_id, timestamp FROM ${BY_BASE} WHERE experiment_id = ? AND session_base = ?
      AND session_key = ? AND video_id != '${UNKNOWN_VIDEO}' ORDER BY timestamp, id LIMIT 1`),
    first: p(`SELECT json_extract(doc, '$.protocol') AS protocol FROM ${BY_BASE}
      WHERE experiment_id = ? AND session_base = ? AND session_key = ? ORDER BY timestamp, id LIMIT 1`),
    known:
      p(`SELECT timestamp, protocol FROM (SELECT timestamp, id, json_extract(doc, '$.protocol') AS protocol
      FROM ${BY_BASE} WHERE experiment_id = ? AND session_base = ? AND session_key = ?)
      WHERE protocol IS NOT NULL AND protocol NOT IN ('', '${CMCD_PROTOCOL}') ORDER BY timestamp, id LIMIT 1`),
    dropRow: p('DELETE FROM sessions WHERE experiment_id = ? AND session_key = ?'),
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
      WHERE seq > ? AND seq <= ? AND session_key IS NOT NULL`),
    tail: p(`SELECT id, experiment_id, session_key, timestamp, video_id, json_extract(doc, '$.protocol') AS protocol,
        session_base IS NOT NULL AS split
      FROM events WHERE seq > ? AND seq <= ? AND session_key IS NOT NULL ORDER BY seq`),
  };
}
