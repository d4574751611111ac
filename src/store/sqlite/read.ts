/**
 * The read side of the embedded store: streamed event reads, session and experiment lists
 * from the summary tables, over the tables src/store/sqlite/schema.ts creates.
 *
 * Insertion order is the table's `seq` (its rowid): SQLite gives each new row max(rowid)+1
 * and a write transaction always starts from the newest committed state, so every row that
 * becomes visible after `max(seq)` was read has a larger seq. That is what the read mark pins.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'libsql';
import { StoreUnavailableError } from '../../errors.ts';
import type { StoredEvent } from '../../events/schema.ts';
import type { SessionQoe } from '../../qoe/types.ts';
import { compareSessions, type SessionSource } from '../../sessions/key.ts';
import { sessionProtocol } from '../../sessions/summary.ts';
import type { ExperimentSummary, JsonEvent, ReadQuery, SessionRow, StaleSession } from '../types.ts';
import { BASE_INDEX, KIND_RUN, KIND_SESSION } from './schema.ts';

type Db = InstanceType<typeof Database>;
type Row = { id: string; timestamp: number; stored_at: string; doc: string; session_key: string | null };

/**
 * Rows per query page / yielded batch: small enough to keep the event loop responsive, and
 * for a page's events to die young. At 2000 a page outlived a young-generation collection
 * often enough to be promoted, and eight concurrent reads of a 1M-event session peaked at
 * 286 MB RSS against 257 MB at 250 and 277 MB at 500 (BENCHMARKS.md); NDJSON export speed is
 * the same at 500.
 */
export const READ_BATCH = 500;

export function wrap(err: unknown, what: string): never {
  if (err instanceof StoreUnavailableError) throw err;
  throw new StoreUnavailableError(`SQLite ${what} failed: ${(err as Error).message}`, { cause: err });
}

function toEvent(r: Row): StoredEvent {
  return {
    _id: r.id,
    ...JSON.parse(r.doc),
    session_key: r.session_key,
    stored_at: r.stored_at,
  } as StoredEvent;
}

/**
 * The row as JSON text without parsing the stored document: `doc` is JSON.stringify output of
 * the event minus _id, session_key and stored_at (which ingest refuses from clients), so
 * splicing them in gives exactly JSON.stringify(toEvent(r)), at a fraction of the cost.
 */
function toJsonEvent(r: Row): JsonEvent {
  return {
    _id: r.id,
    timestamp: r.timestamp,
    json: `{"_id":${JSON.stringify(r.id)},${r.doc.slice(1, -1)},"session_key":${JSON.stringify(r.session_key)},"stored_at":${JSON.stringify(r.stored_at)}}`,
  };
}

/** The newest seq in the table (a global mark; per-experiment marks would cost an index scan). */
export function readMark(db: Db): string | null {
  try {
    const row = db.prepare('SELECT MAX(seq) AS m FROM events').get() as { m: number | null } | undefined;
    return row?.m == null ? null : String(row.m);
  } catch (err) {
    wrap(err, 'read');
  }
}

/** Events in (timestamp, id) order, as keyset pages of READ_BATCH rows. */
export async function* readEvents(getDb: () => Db, q: ReadQuery): AsyncIterable<StoredEvent[]> {
  for await (const rows of readRows(getDb, q)) yield rows.map(toEvent);
}

/** The same, as JSON text. */
export async function* readEventsJson(getDb: () => Db, q: ReadQuery): AsyncIterable<JsonEvent[]> {
  for await (const rows of readRows(getDb, q)) yield rows.map(toJsonEvent);
}

/**
 * One keyset page of events in (timestamp, id) order: the SQL and its arguments, to which a
 * page after the first adds the last (timestamp, id) seen, and every page its row limit.
 * One session's events come through `session_events` (whose key order is the read order),
 * joined to the events; the caller has compacted first (index.ts), so it holds them all.
 */
export function pageSql(
  q: ReadQuery,
  afterKey: boolean,
  run?: RunRange | 'both',
): { sql: string; args: unknown[] } {
  const bySession = q.session !== undefined && run === undefined;
  const k = bySession ? 's' : 'e'; // the table whose order is read
  const where = [`${k}.experiment_id = ?`];
  const args: unknown[] = [q.experimentId];
  if (bySession) {
    where.push('s.session_key = ?');
    args.push(q.session);
  }
  if (run === 'both') {
    // Rare (an explicit id equal to a run's): the experiment's events, filtered.
    where.push('e.session_key = ?');
    args.push(q.session);
  } else if (run) {
    // A run is a time range of its base (write-ops.ts): read through the base index.
    where.push('e.session_base = ?', 'e.timestamp >= ?', 'e.timestamp <= ?');
    args.push(run.base, run.first, run.last);
  }
  if (q.eventType !== undefined) {
    where.push('e.event_type = ?');
    args.push(q.eventType);
  }
  if (q.startTime !== undefined) {
    where.push(`${k}.timestamp >= ?`);
    args.push(q.startTime);
  }
  if (q.endTime !== undefined) {
    where.push(`${k}.timestamp <= ?`);
    args.push(q.endTime);
  }
  if (q.mark !== undefined) {
    where.push(`${k}.seq <= ?`);
    args.push(Number(q.mark));
  }
  if (afterKey) where.push(`(${k}.timestamp, ${k}.id) > (?, ?)`);
  const from = bySession
    ? 'session_events s JOIN events e ON e.seq = s.seq'
    : run && run !== 'both'
      ? `events e INDEXED BY ${BASE_INDEX}`
      : 'events e';
  return {
    sql: `SELECT e.id, e.timestamp, e.stored_at, e.doc, e.session_key FROM ${from}
      WHERE ${where.join(' AND ')} ORDER BY ${k}.timestamp, ${k}.id LIMIT ?`,
    args,
  };
}

/** A run of a split base as reads find it: its base and time span. */
export interface RunRange {
  base: string;
  first: number;
  last: number;
}

/**
 * What a read of one session reads: an explicit session through `session_events`, a run
 * through its base's time range (undefined: the whole experiment, or a session with no row).
 */
function runRange(db: Db, q: ReadQuery): RunRange | 'both' | undefined {
  if (q.session === undefined) return undefined;
  const row = getSession(db, q.experimentId, q.session, q.sessionRun ?? true);
  if (!row || row.base === null || row.base === undefined) return undefined;
  // An explicit session shares the run's id: unless one was asked for, read both.
  if (q.sessionRun === undefined && getSession(db, q.experimentId, q.session, false)) return 'both';
  return { base: row.base, first: row.first_timestamp, last: row.last_timestamp };
}

/** Rows in (timestamp, id) order, as keyset pages: each page an index range scan. */
async function* readRows(getDb: () => Db, q: ReadQuery): AsyncIterable<Row[]> {
  let run: RunRange | 'both' | undefined;
  try {
    run = runRange(getDb(), q);
  } catch (err) {
    wrap(err, 'read');
  }
  const first = pageSql(q, false, run);
  const next = pageSql(q, true, run);
  let after = q.after;
  let remaining = q.limit ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const n = Math.min(READ_BATCH, remaining);
    let rows: Row[];
    try {
      const db = getDb();
      rows = (
        after
          ? db.prepare(next.sql).all(...next.args, after.timestamp, after.id, n)
          : db.prepare(first.sql).all(...first.args, n)
      ) as Row[];
    } catch (err) {
      wrap(err, 'read');
    }
    if (rows.length > 0) yield rows;
    // libsql answers synchronously and a socket takes megabytes before it pushes back, so
    // without a turn of the event loop between pages, unread exports held every other request
    // until their sockets filled (50 of them: 9.6 s, audit N4).
    await nextTurn();
    if (rows.length < n) return;
    remaining -= rows.length;
    const last = rows[rows.length - 1] as Row;
    after = { timestamp: last.timestamp, id: last.id };
    // Let other requests (and inserts) run between pages.
    await new Promise((r) => setImmediate(r));
  }
}

export function listExperiments(db: Db): ExperimentSummary[] {
  try {
    const rows = db
      .prepare(
        `SELECT experiment_id, SUM(count) AS count, MIN(first_ts) AS first_timestamp,
                MAX(last_ts) AS last_timestamp, COUNT(*) AS sessions
         FROM sessions GROUP BY experiment_id ORDER BY experiment_id`,
      )
      .all() as Omit<ExperimentSummary, 'event_types'>[];
    const types = db
      .prepare('SELECT experiment_id, event_type FROM experiment_types ORDER BY experiment_id, event_type')
      .all() as { experiment_id: string; event_type: string }[];
    const byExp = new Map<string, string[]>();
    for (const t of types) {
      const list = byExp.get(t.experiment_id);
      if (list) list.push(t.event_type);
      else byExp.set(t.experiment_id, [t.event_type]);
    }
    return rows.map((r) => ({
      experiment_id: r.experiment_id,
      count: r.count,
      // Events stored by an older version may have a non-finite timestamp: not a time to show.
      first_timestamp: finiteOrNull(r.first_timestamp),
      last_timestamp: finiteOrNull(r.last_timestamp),
      event_types: byExp.get(r.experiment_id) ?? [],
      sessions: r.sessions,
    }));
  } catch (err) {
    wrap(err, 'read');
  }
}

interface SessionDbRow {
  session_key: string;
  kind: number;
  base_key: string | null;
  source: SessionSource;
  count: number;
  first_ts: number;
  last_ts: number;
  video_id: string;
  first_protocol: string;
  known_protocol: string | null;
  version: number;
  stale: number;
  qoe: string | null;
}

const SESSION_COLUMNS =
  'session_key, kind, base_key, source, count, first_ts, last_ts, video_id, first_protocol, known_protocol, version, stale, qoe';

const finiteOrNull = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);

function toSession(r: SessionDbRow): SessionRow {
  return {
    session_id: r.session_key,
    source: r.source,
    count: r.count,
    first_timestamp: r.first_ts,
    last_timestamp: r.last_ts,
    video_id: r.video_id,
    protocol: sessionProtocol(r.known_protocol, r.first_protocol),
    version: r.version,
    qoe: r.stale === 0 && r.qoe !== null ? (JSON.parse(r.qoe) as SessionQoe) : null,
    base: r.kind === KIND_RUN ? r.base_key : null,
  };
}

export function listSessions(db: Db, experimentId: string): SessionRow[] {
  try {
    const rows = db
      .prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE experiment_id = ?`)
      .all(experimentId) as SessionDbRow[];
    return rows.map(toSession).sort(compareSessions);
  } catch (err) {
    wrap(err, 'read');
  }
}

/**
 * One session by id: the explicit session of that id when there is one, else the run (a run's
 * id can equal an explicit session id; `run` picks one of them).
 */
export function getSession(
  db: Db,
  experimentId: string,
  sessionId: string,
  run?: boolean,
): SessionRow | null {
  try {
    const kinds = run === undefined ? '' : ` AND kind = ${run ? KIND_RUN : KIND_SESSION}`;
    const r = db
      .prepare(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE experiment_id = ? AND session_key = ?${kinds} ORDER BY kind LIMIT 1`,
      )
      .get(experimentId, sessionId) as SessionDbRow | undefined;
    return r ? toSession(r) : null;
  } catch (err) {
    wrap(err, 'read');
  }
}

export function staleSessions(db: Db, limit: number, changedBefore: number): StaleSession[] {
  try {
    return db
      .prepare(
        `SELECT experiment_id, session_key AS session_id, version FROM sessions
         WHERE stale = 1 AND changed_at <= ? ORDER BY changed_at LIMIT ?`,
      )
      .all(changedBefore, limit) as StaleSession[];
  } catch (err) {
    wrap(err, 'read');
  }
}
