/**
 * MongoDB store, layout-compatible with the Flask server: database MONGO_DATABASE, one
 * collection `metrics-{experiment_id}` per experiment, documents with the spec's fields and
 * stored_at as a BSON date, so existing pymongo analysis scripts keep working.
 */
import { type Collection, type Document, MongoBulkWriteError, MongoClient, ObjectId } from 'mongodb';
import { StoreUnavailableError } from '../../errors.ts';
import type { EventDoc, StoredEvent } from '../../events/schema.ts';
import type {
  EventStore,
  ExperimentSummary,
  InsertResult,
  JsonEvent,
  ReadQuery,
  SessionSummary,
  StoreHealth,
} from '../types.ts';
import * as read from './read.ts';

export const COLLECTION_PREFIX = 'metrics-';

export interface MongoStoreOptions {
  url: string;
  database: string;
  serverSelectionTimeoutMs: number;
  /** Drop a connection that has been silent this long (a write to a partitioned server fails). */
  socketTimeoutMs?: number;
}

const DUPLICATE_KEY = 11000;

export class MongoStore implements EventStore {
  readonly kind = 'mongodb' as const;
  #client: MongoClient | undefined;
  /** Collections whose indexes are ensured (or being ensured) by this process. */
  #indexed = new Map<string, Promise<void>>();

  constructor(private readonly opts: MongoStoreOptions) {}

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
      client.connect().catch(() => {
        if (this.#client === client) this.#client = undefined;
        client.close().catch(() => {});
      });
    }
    return this.#client;
  }

  get db() {
    return this.client.db(this.opts.database);
  }

  collection(experimentId: string): Collection<Document> {
    return this.db.collection(COLLECTION_PREFIX + experimentId);
  }

  async open(): Promise<void> {
    // Start connecting in the background: the server must start (and report 503) while
    // MongoDB is down.
    void this.client;
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.db.command({ ping: 1 }, { timeoutMS: this.opts.serverSelectionTimeoutMs });
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: describe(err) };
    }
  }

  /**
   * Indexes for time-range reads and (event_type, time) filters, with _id as the tie-breaker
   * so keyset paging is an index scan; and a unique sparse index on event_id so retries are
   * stored once (sparse rather than partial: FerretDB has no partialFilterExpression).
   * Only missing indexes are created: FerretDB drops the connection when createIndexes names
   * indexes that already exist (seen after a restart), so an existing collection is listed first.
   */
  #ensureIndexes(name: string, col: Collection<Document>): Promise<void> {
    let p = this.#indexed.get(name);
    if (!p) {
      p = createMissingIndexes(col).catch(() => createMissingIndexes(col)); // a racing process
      p.catch(() => this.#indexed.delete(name));
      this.#indexed.set(name, p);
    }
    return p;
  }

  async insertMany(events: readonly EventDoc[]): Promise<InsertResult> {
    const byExperiment = new Map<string, number[]>();
    events.forEach((e, i) => {
      const list = byExperiment.get(e.experiment_id);
      if (list) list.push(i);
      else byExperiment.set(e.experiment_id, [i]);
    });
    const duplicates: number[] = [];
    let inserted = 0;
    try {
      await Promise.all(
        [...byExperiment].map(async ([experimentId, indexes]) => {
          const col = this.collection(experimentId);
          await this.#ensureIndexes(col.collectionName, col);
          const docs = indexes.map((i) => ({ _id: new ObjectId(), ...(events[i] as EventDoc) }));
          try {
            const r = await col.insertMany(docs, { ordered: false });
            inserted += r.insertedCount;
          } catch (err) {
            // Only "some were duplicates, all others inserted" counts as success. A network
            // failure also arrives as a MongoBulkWriteError (with no write errors): that is a
            // failure, never a success with nothing inserted.
            if (!(err instanceof MongoBulkWriteError)) throw err;
            const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
            const allDuplicates = errors.length > 0 && errors.every((w) => w.code === DUPLICATE_KEY);
            if (
              !allDuplicates ||
              err.writeConcernError ||
              err.insertedCount + errors.length !== docs.length
            ) {
              throw err;
            }
            inserted += err.insertedCount;
            for (const w of errors) duplicates.push(indexes[w.index] as number);
          }
        }),
      );
    } catch (err) {
      throw new StoreUnavailableError(`MongoDB write failed: ${describe(err)}`, { cause: err });
    }
    duplicates.sort((a, b) => a - b);
    return { inserted, duplicates };
  }

  // Read side: implemented in mongo-read.ts.
  readMark(experimentId: string): Promise<string | null> {
    return read.readMark(this, experimentId);
  }

  readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]> {
    return read.readEvents(this, query);
  }

  async *readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]> {
    for await (const batch of read.readEvents(this, query)) {
      yield batch.map((e) => ({ _id: e._id, timestamp: e.timestamp, json: JSON.stringify(e) }));
    }
  }

  readSessions(experimentId: string): AsyncIterable<StoredEvent[]> {
    return read.readSessions(this, experimentId);
  }

  listExperiments(): Promise<ExperimentSummary[]> {
    return read.listExperiments(this);
  }

  listSessions(experimentId: string): Promise<SessionSummary[]> {
    return read.listSessions(this, experimentId);
  }

  deleteExperiment(experimentId: string): Promise<number> {
    return read.deleteExperiment(this, experimentId);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }
}

const INDEXES = [
  { key: { timestamp: 1, _id: 1 }, name: 'timestamp_1__id_1' },
  { key: { event_type: 1, timestamp: 1, _id: 1 }, name: 'event_type_1_timestamp_1__id_1' },
  { key: { event_id: 1 }, name: 'event_id_1', unique: true, sparse: true },
] as const;

const NAMESPACE_NOT_FOUND = 26;

async function createMissingIndexes(col: Collection<Document>): Promise<void> {
  let existing: string[] = [];
  try {
    existing = (await col.listIndexes().toArray()).map((i) => String(i.name));
  } catch (err) {
    if ((err as { code?: number }).code !== NAMESPACE_NOT_FOUND) throw err;
  }
  const missing = INDEXES.filter((i) => !existing.includes(i.name));
  if (missing.length > 0) await col.createIndexes(missing.map((i) => ({ ...i, key: { ...i.key } })));
}

/** A stored MongoDB document as the API returns it: _id as hex, stored_at as ISO 8601. */
export function docToEvent(doc: Document): StoredEvent {
  const { _id, stored_at, ...rest } = doc;
  return {
    _id: _id instanceof ObjectId ? _id.toHexString() : String(_id),
    ...rest,
    stored_at: stored_at instanceof Date ? stored_at.toISOString() : String(stored_at),
  } as StoredEvent;
}

/** An error's message without anything that could carry credentials (URLs). */
export function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/mongodb(\+srv)?:\/\/[^\s]*/g, 'mongodb://…');
}
