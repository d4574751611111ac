/**
 * The read side of the embedded store: streamed event reads, session grouping, experiment
 * summaries and deletion, over the `events` table that src/store/sqlite.ts creates.
 *
 * Insertion order is the table's `seq` (its rowid): SQLite gives each new row max(rowid)+1
 * and a write transaction always starts from the newest committed state, so every row that
 * becomes visible after `max(seq)` was read has a larger seq. That is what the read mark pins.
 */
import Database from 'libsql';
import { StoreUnavailableError } from '../errors.ts';
import type { StoredEvent } from '../events/schema.ts';
import type { ExperimentSummary, JsonEvent, ReadQuery, SessionSummary } from './types.ts';

type Db = InstanceType<typeof Database>;
type Row = { id: string; timestamp: number; stored_at: string; doc: string };

/** Rows per query page / yielded batch: small enough to keep the event loop responsive. */
export const READ_BATCH = 2000;
/** Rows removed per transaction when deleting an experiment. */
const DELETE_CHUNK = 10_000;

const PAYLOAD_SID_TEXT = `CASE WHEN json_type(doc, '$.payload.session_id') = 'text' THEN NULLIF(json_extract(doc, '$.payload.session_id'), '') END`;
/** The session key rule of src/events/session.ts, in SQL. COALESCE stops at the first non-null. */
const SESSION_KEY = `COALESCE(session_id, ${PAYLOAD_SID_TEXT}, video_id)`;
const SESSION_SOURCE = `CASE WHEN session_id IS NOT NULL OR ${PAYLOAD_SID_TEXT} IS NOT NULL THEN 'session_id' ELSE 'video_id' END`;

const tuned = new WeakSet<Db>();

/**
 * This libsql build keeps temporary B-trees (GROUP BY, ORDER BY without an index) in memory
 * by default (SQLITE_TEMP_STORE=2): grouping a million-event experiment took 400 MB of RSS.
 * On disk they cost a little time and no memory.
 */
function forReads(db: Db): Db {
  if (!tuned.has(db)) {
    db.exec('PRAGMA temp_store = FILE');
    tuned.add(db);
  }
  return db;
}

function wrap(err: unknown, what: string): never {
  if (err instanceof StoreUnavailableError) throw err;
  throw new StoreUnavailableError(`SQLite ${what} failed: ${(err as Error).message}`, { cause: err });
}

function toEvent(r: Row): StoredEvent {
  return { _id: r.id, ...JSON.parse(r.doc), stored_at: r.stored_at } as StoredEvent;
}

/**
 * The row as JSON text without parsing the stored document: `doc` is JSON.stringify output of
 * the event minus _id and stored_at (which ingest refuses from clients), so splicing them in
 * gives exactly JSON.stringify(toEvent(r)), at a fraction of the cost.
 */
function toJsonEvent(r: Row): JsonEvent {
  return {
    _id: r.id,
    timestamp: r.timestamp,
    json: `{"_id":${JSON.stringify(r.id)},${r.doc.slice(1, -1)},"stored_at":${JSON.stringify(r.stored_at)}}`,
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

/** Rows in (timestamp, id) order, as keyset pages: each page an index range scan. */
async function* readRows(getDb: () => Db, q: ReadQuery): AsyncIterable<Row[]> {
  const where = ['experiment_id = ?'];
  const args: unknown[] = [q.experimentId];
  if (q.eventType !== undefined) {
    where.push('event_type = ?');
    args.push(q.eventType);
  }
  if (q.startTime !== undefined) {
    where.push('timestamp >= ?');
    args.push(q.startTime);
  }
  if (q.endTime !== undefined) {
    where.push('timestamp <= ?');
    args.push(q.endTime);
  }
  if (q.session !== undefined) {
    where.push(`(session_id = ? OR (session_id IS NULL AND COALESCE(${PAYLOAD_SID_TEXT}, video_id) = ?))`);
    args.push(q.session, q.session);
  }
  if (q.mark !== undefined) {
    where.push('seq <= ?');
    args.push(Number(q.mark));
  }
  const base = `SELECT id, timestamp, stored_at, doc FROM events WHERE ${where.join(' AND ')}`;
  let after = q.after;
  let remaining = q.limit ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const n = Math.min(READ_BATCH, remaining);
    let rows: Row[];
    try {
      const db = getDb();
      rows = (
        after
          ? db
              .prepare(`${base} AND (timestamp, id) > (?, ?) ORDER BY timestamp, id LIMIT ?`)
              .all(...args, after.timestamp, after.id, n)
          : db.prepare(`${base} ORDER BY timestamp, id LIMIT ?`).all(...args, n)
      ) as Row[];
    } catch (err) {
      wrap(err, 'read');
    }
    if (rows.length > 0) yield rows;
    if (rows.length < n) return;
    remaining -= rows.length;
    const last = rows[rows.length - 1] as Row;
    after = { timestamp: last.timestamp, id: last.id };
    // Let other requests (and inserts) run between pages.
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * One experiment's events grouped by session, one session per yielded array. A single query
 * sorted by session key on a connection of its own: it holds one read snapshot for the whole
 * pass, and SQLite sorts on disk, so memory is bounded by the largest session.
 */
export async function* readSessions(file: string, experimentId: string): AsyncIterable<StoredEvent[]> {
  let db: Db;
  let it: Iterator<Row & { k: string }>;
  try {
    db = forReads(new Database(file));
    db.exec('PRAGMA busy_timeout = 5000');
    it = db
      .prepare(
        `SELECT id, timestamp, stored_at, doc, ${SESSION_KEY} AS k FROM events
         WHERE experiment_id = ? ORDER BY k, timestamp, id`,
      )
      .iterate(experimentId) as Iterator<Row & { k: string }>;
  } catch (err) {
    wrap(err, 'read');
  }
  try {
    let current: StoredEvent[] = [];
    let key: string | undefined;
    let sinceYield = 0;
    for (;;) {
      let next: IteratorResult<Row & { k: string }>;
      try {
        next = it.next();
      } catch (err) {
        wrap(err, 'read');
      }
      if (next.done) break;
      const r = next.value;
      if (key !== undefined && r.k !== key) {
        yield current;
        current = [];
        sinceYield = 0;
      }
      key = r.k;
      current.push(toEvent(r));
      if (++sinceYield >= READ_BATCH) {
        sinceYield = 0;
        await new Promise((res) => setImmediate(res));
      }
    }
    if (current.length > 0) yield current;
  } finally {
    db.close();
  }
}

export function listExperiments(db: Db): ExperimentSummary[] {
  try {
    forReads(db);
    const rows = db
      .prepare(
        `SELECT experiment_id, COUNT(*) AS count, MIN(timestamp) AS first_timestamp,
                MAX(timestamp) AS last_timestamp, COUNT(DISTINCT ${SESSION_KEY}) AS sessions
         FROM events GROUP BY experiment_id ORDER BY experiment_id`,
      )
      .all() as Omit<ExperimentSummary, 'event_types'>[];
    const types = db
      .prepare('SELECT DISTINCT experiment_id, event_type FROM events ORDER BY experiment_id, event_type')
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
      first_timestamp: r.first_timestamp,
      last_timestamp: r.last_timestamp,
      event_types: byExp.get(r.experiment_id) ?? [],
      sessions: r.sessions,
    }));
  } catch (err) {
    wrap(err, 'read');
  }
}

export function listSessions(db: Db, experimentId: string): SessionSummary[] {
  try {
    forReads(db);
    // MIN() alone makes SQLite take the bare columns (video_id, protocol) from the first event.
    const first = db
      .prepare(
        `SELECT k AS session_id, MIN(src) AS source, COUNT(*) AS count, MIN(timestamp) AS first_timestamp,
                video_id, protocol
         FROM (SELECT ${SESSION_KEY} AS k, ${SESSION_SOURCE} AS src, timestamp, video_id,
                      json_extract(doc, '$.protocol') AS protocol
               FROM events WHERE experiment_id = ?)
         GROUP BY k`,
      )
      .all(experimentId) as Omit<SessionSummary, 'last_timestamp'>[];
    const last = db
      .prepare(
        `SELECT ${SESSION_KEY} AS k, MAX(timestamp) AS last_timestamp FROM events
         WHERE experiment_id = ? GROUP BY k`,
      )
      .all(experimentId) as { k: string; last_timestamp: number }[];
    const lastByKey = new Map(last.map((r) => [r.k, r.last_timestamp]));
    return first
      .map((s) => ({ ...s, last_timestamp: lastByKey.get(s.session_id) ?? s.first_timestamp }))
      .sort(
        (a, b) =>
          a.first_timestamp - b.first_timestamp ||
          (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0),
      );
  } catch (err) {
    wrap(err, 'read');
  }
}

/** Deletes in chunks so a large experiment does not hold the writer (and the event loop) for long. */
export async function deleteExperiment(getDb: () => Db, experimentId: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    let changes: number;
    try {
      changes = getDb()
        .prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE experiment_id = ? LIMIT ?)')
        .run(experimentId, DELETE_CHUNK).changes;
    } catch (err) {
      wrap(err, 'delete');
    }
    deleted += changes;
    if (changes < DELETE_CHUNK) return deleted;
    await new Promise((r) => setImmediate(r));
  }
}
