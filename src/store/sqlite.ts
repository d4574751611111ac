/**
 * Embedded store: one SQLite file (WAL) in DATA_DIR, through libsql (SQLite with prebuilt
 * binaries, no compile at install). One table for every experiment; the whole document is
 * kept as JSON next to the columns we filter and sort on.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'libsql';
import { StoreUnavailableError } from '../errors.ts';
import type { EventDoc, StoredEvent } from '../events/schema.ts';
import * as read from './sqlite-read.ts';
import { INSERT_SQL, toRow, type WriterRow } from './sqlite-rows.ts';
import { SqliteWriter } from './sqlite-writer.ts';
import type {
  EventStore,
  ExperimentSummary,
  InsertResult,
  JsonEvent,
  MetricsQuery,
  ReadQuery,
  SessionSummary,
  StoreHealth,
} from './types.ts';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' is not allowed (nothing would be durable). */
  file: string;
  synchronous: 'FULL' | 'NORMAL';
  /** How long a write waits for another process's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Write on a worker thread (default) rather than on the calling thread. */
  writeThread?: boolean;
}

/**
 * Writes use their own connection, by default on a worker thread (sqlite-writer.ts) so that
 * fsync and lock waits never block the event loop. Inline (writeThread: false), lock waits are
 * short and synchronous and longer ones are retried asynchronously; either way a long wait
 * fills the group committer's bounded queue and turns into 503s.
 */
const WRITE_BUSY_SLICE_MS = 20;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  event_id TEXT,
  timestamp REAL NOT NULL,
  event_type TEXT NOT NULL,
  session_id TEXT,
  video_id TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_exp_ts ON events(experiment_id, timestamp, id);
CREATE INDEX IF NOT EXISTS events_exp_type_ts ON events(experiment_id, event_type, timestamp, id);
CREATE UNIQUE INDEX IF NOT EXISTS events_exp_event_id ON events(experiment_id, event_id)
  WHERE event_id IS NOT NULL;
`;

type Db = InstanceType<typeof Database>;
type Row = { id: string; timestamp: number; stored_at: string; doc: string };

/** Rows are read in pages so a long read never holds the event loop for long. */
const READ_PAGE = 1000;

export class SqliteStore implements EventStore {
  readonly kind = 'sqlite' as const;
  #db: Db | undefined;
  #writer: Db | undefined;
  #insertTx: { immediate: (rows: readonly WriterRow[]) => InsertResult } | undefined;
  #thread: SqliteWriter | undefined;

  constructor(private readonly opts: SqliteStoreOptions) {}

  /** The open database handle, for modules of this store that add queries (read side). */
  get db(): Db {
    if (!this.#db) throw new StoreUnavailableError('the SQLite store is not open');
    return this.#db;
  }

  async open(): Promise<void> {
    fs.mkdirSync(path.dirname(this.opts.file), { recursive: true });
    const db = new Database(this.opts.file);
    // busy_timeout first: another process (a cluster worker) may be creating the schema.
    db.exec(`PRAGMA busy_timeout = ${this.opts.busyTimeoutMs ?? 5000}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${this.opts.synchronous}`);
    db.exec(SCHEMA);
    this.#db = db;
    if (this.opts.writeThread ?? true) {
      const thread = new SqliteWriter({
        file: this.opts.file,
        synchronous: this.opts.synchronous,
        busyTimeoutMs: this.opts.busyTimeoutMs ?? 5000,
      });
      await thread.start();
      this.#thread = thread;
      return;
    }
    const writer = new Database(this.opts.file);
    writer.exec(`PRAGMA synchronous = ${this.opts.synchronous}`);
    writer.exec(`PRAGMA busy_timeout = ${WRITE_BUSY_SLICE_MS}`);
    this.#writer = writer;
    const insert = writer.prepare(INSERT_SQL);
    this.#insertTx = writer.transaction((rows: readonly WriterRow[]) => {
      const duplicates: number[] = [];
      let inserted = 0;
      rows.forEach((row, i) => {
        if (insert.run(...row).changes === 0) duplicates.push(i);
        else inserted++;
      });
      return { inserted, duplicates };
    });
  }

  async health(): Promise<StoreHealth> {
    try {
      this.db.prepare('SELECT 1').get();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async insertMany(events: readonly EventDoc[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: [] };
    // The writer thread builds the rows itself: cloning documents to it is cheaper for this
    // thread than building rows here (JSON.stringify) and cloning those.
    if (this.#thread) return this.#thread.insert(events);
    const rows = events.map(toRow);
    const deadline = Date.now() + (this.opts.busyTimeoutMs ?? 5000);
    for (let attempt = 1; ; attempt++) {
      const tx = this.#insertTx;
      if (!tx) throw new StoreUnavailableError('the SQLite store is not open');
      try {
        // BEGIN IMMEDIATE takes the write lock first: a busy database fails before any work.
        return tx.immediate(rows);
      } catch (err) {
        const busy = (err as { code?: string }).code === 'SQLITE_BUSY';
        if (!busy || Date.now() >= deadline) {
          throw new StoreUnavailableError(`SQLite write failed: ${(err as Error).message}`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, Math.min(5 * attempt, 50)));
      }
    }
  }

  async *find(q: MetricsQuery): AsyncIterable<StoredEvent> {
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
    let after = q.after;
    let remaining = q.limit ?? Number.POSITIVE_INFINITY;
    const base = `SELECT id, timestamp, stored_at, doc FROM events WHERE ${where.join(' AND ')}`;
    // Keyset paging over (timestamp, id): each page is an index range scan, so memory and
    // per-page cost stay flat however large the experiment.
    const firstPage = this.db.prepare(`${base} ORDER BY timestamp, id LIMIT ?`);
    const nextPage = this.db.prepare(
      `${base} AND (timestamp > ? OR (timestamp = ? AND id > ?)) ORDER BY timestamp, id LIMIT ?`,
    );
    while (remaining > 0) {
      const n = Math.min(READ_PAGE, remaining);
      const rows = (
        after
          ? nextPage.all(...args, after.timestamp, after.timestamp, after.id, n)
          : firstPage.all(...args, n)
      ) as Row[];
      for (const r of rows) yield rowToEvent(r);
      if (rows.length < n) return;
      remaining -= rows.length;
      const last = rows[rows.length - 1] as Row;
      after = { timestamp: last.timestamp, id: last.id };
      // Let other requests run between pages.
      await new Promise((r) => setImmediate(r));
    }
  }

  // Read side: implemented in sqlite-read.ts.
  async readMark(_experimentId: string): Promise<string | null> {
    return read.readMark(this.db);
  }

  readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]> {
    return read.readEvents(() => this.db, query);
  }

  readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]> {
    return read.readEventsJson(() => this.db, query);
  }

  readSessions(experimentId: string): AsyncIterable<StoredEvent[]> {
    if (!this.#db) throw new StoreUnavailableError('the SQLite store is not open');
    return read.readSessions(this.opts.file, experimentId);
  }

  async listExperiments(): Promise<ExperimentSummary[]> {
    return read.listExperiments(this.db);
  }

  async listSessions(experimentId: string): Promise<SessionSummary[]> {
    return read.listSessions(this.db, experimentId);
  }

  deleteExperiment(experimentId: string): Promise<number> {
    return read.deleteExperiment(() => this.db, experimentId);
  }

  async close(): Promise<void> {
    const thread = this.#thread;
    this.#thread = undefined;
    await thread?.close();
    this.#insertTx = undefined;
    this.#writer?.close();
    this.#writer = undefined;
    this.#db?.close();
    this.#db = undefined;
  }
}

export function rowToEvent(r: Row): StoredEvent {
  return { _id: r.id, ...JSON.parse(r.doc), stored_at: r.stored_at } as StoredEvent;
}
