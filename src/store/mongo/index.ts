/**
 * MongoDB store, layout-compatible with the Flask server: database MONGO_DATABASE, one
 * collection `metrics-{experiment_id}` per experiment, documents with the spec's fields and
 * stored_at as a BSON date, so existing pymongo analysis scripts keep working. Each event also
 * carries the session ingest decided for it, and summaries live in `stats_*` collections
 * (docs.ts describes the layout).
 *
 * Within one process, writes (and rebuilds) of one experiment run one at a time; that is what
 * keeps run splitting exact without transactions (write.ts), with each split base's state kept
 * between groups. Several processes writing the same split base at once can race
 * (docs/mongodb.md); `stats-server rebuild-summaries` repairs that.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
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
import { loginOf, type MongoLogin } from './auth.ts';
import {
  createEventIndexes,
  createSessionIndexes,
  describe,
  eventsOf,
  experimentsOf,
  hostsOf,
  KeyedLock,
  type Mongo,
  sessionsOf,
  storeError,
} from './docs.ts';
import { WriteLeases } from './leases.ts';
import { KeyedCollections, KeyPlan } from './legacy.ts';
import * as read from './read.ts';
import {
  collectionExperiments,
  interruptedExperiments,
  rebuildExperiment,
  repairIfInterrupted,
} from './rebuild.ts';
import { getSessionRow, saveQoe, staleRows } from './sessions.ts';
import { type BaseStates, insertGroup } from './write.ts';

export { COLLECTION_PREFIX, describe, docToEvent } from './docs.ts';

export interface MongoStoreOptions {
  url: string;
  database: string;
  serverSelectionTimeoutMs: number;
  /** Drop a connection that has been silent this long (a write to a partitioned server fails). */
  socketTimeoutMs?: number;
  /** Silence (seconds) that splits a fallback-keyed session into runs; 0: never (default 600). */
  sessionGapS?: number;
}

export class MongoStore implements EventStore {
  readonly kind = 'mongodb' as const;
  #client: MongoClient | undefined;
  readonly #where: string;
  /** Who MONGO_URL logs in as (no password), to name it when the login is refused. */
  readonly #login: MongoLogin | null;
  /** Per-process promises, dropped on failure so the next call retries. */
  readonly #once = new Map<string, Promise<void>>();
  readonly #lock = new KeyedLock();
  readonly #keyed = new KeyedCollections();
  /** Why the last connection attempt failed (names the cause in errors; see storeError). */
  #lastFailure: string | undefined;
  /** Names this process in "writing" notes (leases.ts). */
  readonly #token = randomBytes(8).toString('hex');
  /** Split bases' states kept between groups (write.ts). */
  readonly #states: BaseStates = new Map();
  readonly #leases = new WriteLeases(this.#token);

  constructor(private readonly opts: MongoStoreOptions) {
    this.#where = hostsOf(opts.url);
    this.#login = loginOf(opts.url);
  }

  /**
   * The driver's client. A MongoClient whose first connection attempt fails is closed for
   * good ("Topology is closed"), so until one has connected we replace a failed client with a
   * fresh one on next use; once connected, the driver rides out later outages by itself.
   */
  get client(): MongoClient {
    if (!this.#client) {
      const client = new MongoClient(this.opts.url, {
        serverSelectionTimeoutMS: this.opts.serverSelectionTimeoutMs,
        socketTimeoutMS: this.opts.socketTimeoutMs ?? 30_000,
        appName: 'stats-server',
        // Acknowledged by a majority and journaled: a 200 means the event survives a crash.
        writeConcern: { w: 'majority', journal: true },
      });
      this.#client = client;
      client.connect().then(
        () => {
          this.#lastFailure = undefined;
        },
        (err) => {
          this.#lastFailure = describe(err);
          if (this.#client === client) this.#client = undefined;
          client.close().catch(() => {});
        },
      );
    }
    return this.#client;
  }

  get db() {
    return this.client.db(this.opts.database);
  }

  get #m(): Mongo {
    return { db: this.db, where: this.#where, gapS: this.opts.sessionGapS ?? 600 };
  }

  collection(experimentId: string) {
    return eventsOf(this.#m, experimentId);
  }

  /** Runs `task` once per process under `key`; a failure lets the next call try again. */
  #runOnce(key: string, task: () => Promise<void>): Promise<void> {
    let p = this.#once.get(key);
    if (!p) {
      p = task();
      p.catch(() => this.#once.delete(key));
      this.#once.set(key, p);
    }
    return p;
  }

  async open(): Promise<void> {
    // Start connecting in the background: the server must start (and report 503) while
    // MongoDB is down. The crash check runs in the background too (reads of an experiment
    // wait for its own check).
    void this.client;
    void this.#recover().catch(() => this.#once.delete('recover'));
  }

  /** Repairs, in the background, every experiment an interrupted write left noted (rebuild.ts). */
  #recover(): Promise<void> {
    return this.#runOnce('recover', async () => {
      for (const exp of await interruptedExperiments(this.#m)) await this.#checked(exp);
    });
  }

  /**
   * Reads of an experiment wait for its repair check (once per process, and again after a
   * write of this process failed half-way), so they never see summaries behind the events.
   */
  #checked(exp: string): Promise<void> {
    return this.#runOnce(`check\u0000${exp}`, () =>
      this.#lock.run(exp, async () => {
        if (await repairIfInterrupted(this.#m, exp, this.#token)) this.#forget(exp);
      }),
    );
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.db.command({ ping: 1 }, { timeoutMS: this.opts.serverSelectionTimeoutMs });
      return { ok: true };
    } catch (err) {
      return {
        ok: false,
        detail: storeError(err, 'ping', this.#where, this.#lastFailure, this.#login).message,
      };
    }
  }

  /** Indexes of an experiment collection and of the summaries, once per process. */
  #ensureIndexes(exp: string): Promise<void> {
    const m = this.#m;
    const col = eventsOf(m, exp);
    const retry = (f: () => Promise<void>) => f().catch(() => f()); // a racing process
    return Promise.all([
      this.#runOnce('stats-indexes', () => retry(() => createSessionIndexes(sessionsOf(m)))),
      this.#runOnce(`indexes\u0000${exp}`, () => retry(() => createEventIndexes(col))),
    ]).then(() => {});
  }

  async insertMany(events: readonly EventDoc[]): Promise<InsertResult> {
    const byExperiment = new Map<string, number[]>();
    events.forEach((e, i) => {
      const list = byExperiment.get(e.experiment_id);
      if (list) list.push(i);
      else byExperiment.set(e.experiment_id, [i]);
    });
    const duplicates: number[] = [];
    const failed: Array<{ index: number; message: string }> = [];
    let inserted = 0;
    try {
      await Promise.all(
        [...byExperiment].map(async ([exp, idx]) => {
          await this.#ensureIndexes(exp);
          // Summaries of an older layout or an interrupted write are made right first.
          await this.#checked(exp);
          await this.#lock.run(exp, async () => {
            try {
              await this.#leases.hold(this.#m, exp);
              const r = await insertGroup(this.#m, exp, events, idx, this.#states);
              inserted += r.inserted;
              duplicates.push(...r.duplicates);
              failed.push(...r.refused);
              // Another writer stored some of these events meanwhile: re-derive the experiment.
              if (r.resync.length > 0) {
                this.#forget(exp);
                await rebuildExperiment(this.#m, exp);
              }
              await this.#leases.noteTypes(this.#m, exp, r.types);
            } catch (err) {
              // The write may have stopped between events and summaries: check before reading.
              this.#once.delete(`check\u0000${exp}`);
              this.#forget(exp);
              throw err;
            }
          });
        }),
      );
    } catch (err) {
      throw storeError(err, 'write', this.#where, this.#lastFailure, this.#login);
    }
    duplicates.sort((a, b) => a - b);
    failed.sort((a, b) => a.index - b.index);
    return { inserted, duplicates, ...(failed.length > 0 ? { failed } : {}) };
  }

  /** Drops the kept states of an experiment's bases (after a failure, a rebuild, a delete). */
  #forget(exp: string): void {
    for (const k of this.#states.keys()) if (k.startsWith(`${exp}\u0000`)) this.#states.delete(k);
  }

  async readMark(experimentId: string): Promise<string | null> {
    try {
      return await read.readMark(this.#m, experimentId);
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  /** Keys computed from a scan when the collection stores none (before the backfill). */
  async #plan(exp: string): Promise<KeyPlan | undefined> {
    await this.#checked(exp);
    return (await this.#keyed.isKeyed(this.#m, exp)) ? undefined : KeyPlan.of(this.#m, exp);
  }

  async *readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]> {
    try {
      yield* read.readEvents(this.#m, query, await this.#plan(query.experimentId));
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  async *readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]> {
    for await (const batch of this.readEvents(query)) {
      yield batch.map((e) => ({ _id: e._id, timestamp: e.timestamp, json: JSON.stringify(e) }));
    }
  }

  async listExperiments(): Promise<ExperimentSummary[]> {
    try {
      return await read.listExperiments(this.#m);
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  async listSessions(experimentId: string): Promise<SessionRow[]> {
    try {
      await this.#checked(experimentId);
      const keyed = await this.#keyed.isKeyed(this.#m, experimentId);
      return await read.listSessions(this.#m, experimentId, keyed);
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  async getSession(experimentId: string, sessionId: string): Promise<SessionRow | null> {
    try {
      await this.#checked(experimentId);
      if (await this.#keyed.isKeyed(this.#m, experimentId))
        return await getSessionRow(this.#m, experimentId, sessionId);
      const rows = await read.listSessions(this.#m, experimentId, false);
      return rows.find((r) => r.session_id === sessionId) ?? null;
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  async saveSessionQoe(
    experimentId: string,
    sessionId: string,
    version: number,
    qoe: SessionQoe,
  ): Promise<void> {
    try {
      await saveQoe(this.#m, experimentId, sessionId, version, qoe);
    } catch (err) {
      throw storeError(err, 'write', this.#where, this.#lastFailure, this.#login);
    }
  }

  async staleSessions(limit: number, changedBefore: number): Promise<StaleSession[]> {
    try {
      // Experiments not yet backfilled are read from scans, which never cache a QoE.
      const legacy = await experimentsOf(this.#m)
        .find({ legacy: true }, { projection: { _id: 1 } })
        .toArray();
      return await staleRows(
        this.#m,
        limit,
        changedBefore,
        legacy.map((d) => String(d._id)),
      );
    } catch (err) {
      throw storeError(err, 'read', this.#where, this.#lastFailure, this.#login);
    }
  }

  async rebuildSummaries(experimentId?: string): Promise<RebuildResult> {
    const out: RebuildResult = { experiments: 0, sessions: 0, events: 0 };
    try {
      const m = this.#m;
      let exps: string[];
      if (experimentId !== undefined) exps = [experimentId];
      else {
        const metas = await experimentsOf(m)
          .find({}, { projection: { _id: 1 } })
          .toArray();
        exps = [...new Set([...(await collectionExperiments(m)), ...metas.map((d) => String(d._id))])].sort();
      }
      for (const exp of exps) {
        await this.#ensureIndexes(exp);
        const r = await this.#lock.run(exp, () => {
          this.#forget(exp);
          return rebuildExperiment(this.#m, exp);
        });
        this.#keyed.markKeyed(exp);
        out.experiments++;
        out.sessions += r.sessions;
        out.events += r.events;
      }
    } catch (err) {
      throw storeError(err, 'rebuild', this.#where, this.#lastFailure, this.#login);
    }
    return out;
  }

  /**
   * deleteMany rather than drop: the collection keeps the indexes the insert path made (above
   * all the unique event_id index), which it only creates once per process. The experiment
   * stays managed (its `stats_experiments` document is emptied, not removed).
   */
  deleteExperiment(experimentId: string): Promise<number> {
    return this.#lock
      .run(experimentId, async () => {
        const m = this.#m;
        this.#forget(experimentId);
        this.#leases.forget(experimentId);
        const r = await eventsOf(m, experimentId).deleteMany({});
        await sessionsOf(m).deleteMany({ experiment_id: experimentId });
        await experimentsOf(m).updateOne(
          { _id: experimentId as never },
          { $set: { event_types: [] }, $unset: { first_ts: '', last_ts: '', legacy: '' } },
          { upsert: true },
        );
        return r.deletedCount;
      })
      .catch((err) => {
        throw storeError(err, 'delete', this.#where, this.#lastFailure, this.#login);
      });
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (client) await this.#leases.release(this.#m).catch(() => {});
    this.#client = undefined;
    await client?.close();
  }
}
