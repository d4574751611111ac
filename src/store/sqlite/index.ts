/**
 * Embedded store: one SQLite file (WAL) in DATA_DIR, through libsql (SQLite with prebuilt
 * binaries, no compile at install). One table for every experiment's events, one row of
 * summary per session (schema.ts).
 *
 * Every write goes through one writer thread (writer.ts), so fsync and waits for another
 * process's lock never block the event loop; this thread only reads, on its own connection.
 * Reads of summaries and of one session ask the writer to compact first (compaction.ts), so
 * they see every event stored before them.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'libsql';
import { StoreUnavailableError } from '../../errors.ts';
import type { EventDoc, StoredEvent } from '../../events/schema.ts';
import type { SessionQoe } from '../../qoe/types.ts';
import type {
  EventStore,
  ExperimentSummary,
  InsertResult,
  JsonEvent,
  ReadQuery,
  RebuildResult,
  SessionRow,
  StaleSession,
  StoreHealth,
} from '../types.ts';
import { checkDataDir } from './data-dir.ts';
import * as read from './read.ts';
import { prepareAhead, prepareRows } from './rows.ts';
import { SqliteWriter } from './writer.ts';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' is not allowed (nothing would be durable). */
  file: string;
  synchronous: 'FULL' | 'NORMAL';
  /** How long a write waits for another process's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Silence (seconds) that splits a fallback-keyed session into runs; 0: never (default 600). */
  sessionGapS?: number;
}

/** Rows removed per transaction when deleting an experiment. */
const DELETE_CHUNK = 10_000;
/** Below this much free space in the data directory, health says writes may fail. */
const MIN_FREE_BYTES = 1024 * 1024;

type Db = InstanceType<typeof Database>;

export class SqliteStore implements EventStore {
  readonly kind = 'sqlite' as const;
  #db: Db | undefined;
  #writer: SqliteWriter | undefined;

  constructor(private readonly opts: SqliteStoreOptions) {}

  /** The open read connection, for modules of this store that add queries. */
  get db(): Db {
    if (!this.#db) throw new StoreUnavailableError('the SQLite store is not open');
    return this.#db;
  }

  get #w(): SqliteWriter {
    if (!this.#writer) throw new StoreUnavailableError('the SQLite store is not open');
    return this.#writer;
  }

  async open(): Promise<void> {
    checkDataDir(path.dirname(path.resolve(this.opts.file)));
    // The writer creates (or migrates) the schema before anything reads.
    const writer = new SqliteWriter({
      file: this.opts.file,
      synchronous: this.opts.synchronous,
      busyTimeoutMs: this.opts.busyTimeoutMs ?? 5000,
      sessionGapS: this.opts.sessionGapS ?? 600,
    });
    await writer.start();
    this.#writer = writer;
    const db = new Database(this.opts.file);
    db.exec(`PRAGMA busy_timeout = ${this.opts.busyTimeoutMs ?? 5000}`);
    // This libsql build keeps temporary B-trees in memory by default; on disk they cost a
    // little time and no memory.
    db.exec('PRAGMA temp_store = FILE');
    this.#db = db;
    this.#identity = fs.statSync(this.opts.file);
  }

  #identity: fs.Stats | undefined;

  /**
   * Healthy only when a write can succeed: the file is still the one opened, its directory is
   * writable with some space left, and the last write did not fail for good.
   */
  async health(): Promise<StoreHealth> {
    try {
      this.db.prepare('SELECT 1').get();
      const now = fs.statSync(this.opts.file, { throwIfNoEntry: false });
      if (!now || now.ino !== this.#identity?.ino || now.dev !== this.#identity?.dev) {
        return { ok: false, detail: 'the database file was removed or replaced; restart the server' };
      }
      const dir = path.dirname(this.opts.file);
      try {
        fs.accessSync(dir, fs.constants.W_OK);
      } catch (err) {
        return {
          ok: false,
          detail: `the data directory is not writable (${(err as NodeJS.ErrnoException).code})`,
        };
      }
      const fsStats = fs.statfsSync(dir);
      if (fsStats.bavail * fsStats.bsize < MIN_FREE_BYTES) return { ok: false, detail: 'the disk is full' };
      const failure = this.#writer?.failure;
      if (failure) return { ok: false, detail: `writes fail: ${failure}` };
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  prepare(events: readonly EventDoc[]): void {
    prepareAhead(events);
  }

  insertMany(events: readonly EventDoc[]): Promise<InsertResult> {
    if (events.length === 0) return Promise.resolve({ inserted: 0, duplicates: [] });
    return this.#w.insert(prepareRows(events));
  }

  async readMark(_experimentId: string): Promise<string | null> {
    return read.readMark(this.db);
  }

  /**
   * Folds the events stored so far into summaries and the session index before a read of
   * them. While writes fail (disk full, read-only file), reads still answer, with what was
   * folded before the failure.
   */
  async #folded(): Promise<void> {
    try {
      await this.#w.compact();
    } catch {
      // The write side's failure is reported by health and by writes.
    }
  }

  async *#afterFold<T>(rows: () => AsyncIterable<T>): AsyncIterable<T> {
    await this.#folded();
    yield* rows();
  }

  readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]> {
    const rows = () => read.readEvents(() => this.db, query);
    return query.session === undefined ? rows() : this.#afterFold(rows);
  }

  readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]> {
    const rows = () => read.readEventsJson(() => this.db, query);
    return query.session === undefined ? rows() : this.#afterFold(rows);
  }

  async listExperiments(): Promise<ExperimentSummary[]> {
    await this.#folded();
    return read.listExperiments(this.db);
  }

  async listSessions(experimentId: string): Promise<SessionRow[]> {
    await this.#folded();
    return read.listSessions(this.db, experimentId);
  }

  async getSession(experimentId: string, sessionId: string): Promise<SessionRow | null> {
    await this.#folded();
    return read.getSession(this.db, experimentId, sessionId);
  }

  async saveSessionQoe(
    experimentId: string,
    sessionId: string,
    version: number,
    qoe: SessionQoe,
  ): Promise<void> {
    await this.#w.saveQoe(experimentId, sessionId, version, JSON.stringify(qoe));
  }

  async staleSessions(limit: number, changedBefore: number): Promise<StaleSession[]> {
    return read.staleSessions(this.db, limit, changedBefore);
  }

  rebuildSummaries(experimentId?: string): Promise<RebuildResult> {
    return this.#w.rebuild(experimentId);
  }

  /** Deletes in chunks on the writer thread, so other writes interleave and HTTP never waits. */
  async deleteExperiment(experimentId: string): Promise<number> {
    let deleted = 0;
    for (;;) {
      const r = await this.#w.deleteChunk(experimentId, DELETE_CHUNK);
      deleted += r.events;
      if (r.done) return deleted;
    }
  }

  async close(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close();
    this.#db?.close();
    this.#db = undefined;
  }
}
