/**
 * What every module of the MongoDB store shares: collection names, how a stored document
 * becomes an event, indexes, and errors that never carry credentials.
 *
 * Layout (readable by a plain pymongo script): one collection `metrics-{experiment_id}` per
 * experiment holding the spec's fields plus `session_key` (the session ingest decided,
 * src/sessions/key.ts) and, for split fallback keys, `session_base`; one collection
 * `stats_sessions` with a summary per session of every experiment; one `stats_experiments`
 * with the event types and time span per experiment. The `stats_` names never collide with
 * `metrics-*`.
 */
import {
  type Collection,
  type Db,
  type Document,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  ObjectId,
} from 'mongodb';
import { StoreUnavailableError } from '../../errors.ts';
import type { StoredEvent } from '../../events/schema.ts';
import { authFailureMessage, isAuthFailure, type MongoLogin } from './auth.ts';

export const COLLECTION_PREFIX = 'metrics-';
export const SESSIONS_COLLECTION = 'stats_sessions';
export const EXPERIMENTS_COLLECTION = 'stats_experiments';

/** What the store's modules need: the database, where it is (for errors), the split gap. */
export interface Mongo {
  readonly db: Db;
  /** host:port list of the server, for error messages (never credentials). */
  readonly where: string;
  /** Silence (seconds) that splits a fallback-keyed session into runs; 0: never. */
  readonly gapS: number;
}

export const eventsOf = (m: Mongo, experimentId: string): Collection<Document> =>
  m.db.collection(COLLECTION_PREFIX + experimentId);
export const sessionsOf = (m: Mongo): Collection<Document> => m.db.collection(SESSIONS_COLLECTION);
export const experimentsOf = (m: Mongo): Collection<Document> => m.db.collection(EXPERIMENTS_COLLECTION);

/**
 * A stored document as the API returns it: _id as hex, stored_at as ISO 8601, and the session
 * key just before stored_at (as the embedded store returns it). `key` overrides the stored key
 * (documents written by the Flask server have none until backfilled).
 */
export function docToEvent(doc: Document, key?: string): StoredEvent {
  const { _id, stored_at, session_key, session_base: _base, ...rest } = doc;
  return {
    _id: _id instanceof ObjectId ? _id.toHexString() : String(_id),
    ...rest,
    session_key: key ?? session_key ?? null,
    stored_at: stored_at instanceof Date ? stored_at.toISOString() : String(stored_at),
  } as unknown as StoredEvent;
}

/** An _id from the API (hex of an ObjectId, else the stored string). */
export function idOf(id: string): ObjectId | string {
  return /^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : id;
}

/** Sort key of an _id: ObjectId hex sorts as the ObjectId does. */
export const idKey = (id: unknown): string => (id instanceof ObjectId ? id.toHexString() : String(id));

/** An error's message without anything that could carry credentials (URLs). */
export function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/mongodb(\+srv)?:\/\/[^\s]*/g, 'mongodb://…');
}

/** The host:port list of a connection string, without user, password, path or options. */
export function hostsOf(url: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]*)/.exec(url);
  return m?.[1] || 'the configured server';
}

/** The driver's ways of saying the server cannot be reached. */
function unreachable(err: unknown): boolean {
  return (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoNetworkError
  );
}

/**
 * A store error naming the server (host:port) when it cannot be reached. The driver's
 * "Topology is closed" / "Client must be connected" say nothing about why: `lastFailure` (the
 * last connection attempt's error) replaces them when known.
 */
export function storeError(
  err: unknown,
  what: string,
  where: string,
  lastFailure?: string,
  login?: MongoLogin | null,
): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  const closed = err instanceof MongoTopologyClosedError || err instanceof MongoNotConnectedError;
  const why = closed && lastFailure ? lastFailure : describe(err);
  // A refused login is not an unreachable server (auth.ts): say so, with the login's reason.
  const loginFailed = lastFailure !== undefined && isAuthFailure(undefined, lastFailure);
  if (isAuthFailure(err) || (loginFailed && (closed || unreachable(err)))) {
    const reason = loginFailed ? (lastFailure as string) : why;
    // "Connection pool … was cleared because another operation failed with: <the reason>"
    const inner = /failed with: "?([\s\S]*?)"?$/.exec(reason)?.[1] ?? reason;
    return new StoreUnavailableError(authFailureMessage(where, login ?? null, inner), { cause: err });
  }
  const message = unreachable(err)
    ? `cannot reach MongoDB at ${where}: ${why}`
    : `MongoDB ${what} failed: ${why}`;
  return new StoreUnavailableError(message, { cause: err });
}

/**
 * Indexes of an experiment collection: time-range reads and (event_type, time) filters with
 * _id as the tie-breaker (keyset paging is an index scan); a unique sparse index on event_id so
 * retries are stored once (sparse: FerretDB has no partialFilterExpression); a session's events
 * in time order; a split base's events in time order (sparse: only split keys have a base).
 */
const EVENT_INDEXES = [
  { key: { timestamp: 1, _id: 1 }, name: 'timestamp_1__id_1' },
  { key: { event_type: 1, timestamp: 1, _id: 1 }, name: 'event_type_1_timestamp_1__id_1' },
  { key: { event_id: 1 }, name: 'event_id_1', unique: true, sparse: true },
  { key: { session_key: 1, timestamp: 1, _id: 1 }, name: 'session_key_1_timestamp_1__id_1' },
  { key: { session_base: 1, timestamp: 1 }, name: 'session_base_1_timestamp_1', sparse: true },
] as const;

const SESSION_INDEXES = [
  // A run and an explicit session may share an id: `kind` keeps them apart (sessions.ts).
  {
    key: { experiment_id: 1, session_key: 1, kind: 1 },
    name: 'experiment_id_1_session_key_1_kind_1',
    unique: true,
  },
  { key: { experiment_id: 1, base_key: 1, first_ts: 1 }, name: 'experiment_id_1_base_key_1_first_ts_1' },
  { key: { stale: 1, changed_at: 1 }, name: 'stale_1_changed_at_1' },
] as const;

const NAMESPACE_NOT_FOUND = 26;

type IndexSpec = { key: Record<string, 1>; name: string; unique?: boolean; sparse?: boolean };

/**
 * Creates the indexes a collection lacks. Only missing ones: FerretDB drops the connection
 * when createIndexes names indexes that already exist (seen after a restart).
 */
async function createMissing(col: Collection<Document>, specs: readonly IndexSpec[]): Promise<void> {
  let existing: string[] = [];
  try {
    existing = (await col.listIndexes().toArray()).map((i) => String(i.name));
  } catch (err) {
    if ((err as { code?: number }).code !== NAMESPACE_NOT_FOUND) throw err;
  }
  const missing = specs.filter((i) => !existing.includes(i.name));
  if (missing.length > 0) await col.createIndexes(missing.map((i) => ({ ...i, key: { ...i.key } })));
}

export const createEventIndexes = (col: Collection<Document>) => createMissing(col, EVENT_INDEXES);
/** The summaries' indexes; the unique index of the layout before `kind` goes. */
export async function createSessionIndexes(col: Collection<Document>): Promise<void> {
  await createMissing(col, SESSION_INDEXES);
  const old = 'experiment_id_1_session_key_1';
  const existing = (await col.listIndexes().toArray()).map((i) => String(i.name));
  if (existing.includes(old)) await col.dropIndex(old);
}

/** Runs tasks of one key one at a time (in call order); tasks of other keys run freely. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}

/** MongoDB's error code for a write that collides on a unique index (E11000). */
export const DUPLICATE_KEY = 11000;

/**
 * Runs a single-document upsert, once more if it lost a race: two instances upserting the same
 * new document both try to insert it, and MongoDB fails the second on the unique index (E11000);
 * run again, the upsert matches the document the other one created.
 */
export async function upsertRetried<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
    return op();
  }
}
