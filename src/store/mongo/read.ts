/**
 * The read side of the MongoDB store (collections `metrics-{experiment_id}`). Kept to what
 * both MongoDB 5+ and FerretDB 1.24 (the test server) support: find with sort/limit,
 * distinct, countDocuments, and $group with $sum only (FerretDB has no $min/$max/$first/
 * $last accumulators and no $ifNull), so per-session first/last times are folded here.
 *
 * Insertion order is `_id`: ObjectIds are made just before the insert, so an event
 * acknowledged before readMark() ran has an _id at or below the mark.
 */
import { type Document, ObjectId } from 'mongodb';
import { StoreUnavailableError } from '../../errors.ts';
import type { StoredEvent } from '../../events/schema.ts';
import { baseSessionKey } from '../../sessions/key.ts';
import type { ExperimentSummary, ReadQuery, SessionSummary } from '../types.ts';
import { COLLECTION_PREFIX, describe, docToEvent, type MongoStore } from './index.ts';

/** Documents per yielded batch and per cursor round trip. */
export const READ_BATCH = 1000;

function wrap(err: unknown, what: string): never {
  if (err instanceof StoreUnavailableError) throw err;
  throw new StoreUnavailableError(`MongoDB ${what} failed: ${describe(err)}`, { cause: err });
}

/** Events of one session (key rule: src/events/session.ts). */
export function sessionFilter(session: string): Document {
  return {
    $or: [
      { session_id: session },
      { session_id: { $exists: false }, 'payload.session_id': session },
      { session_id: { $exists: false }, 'payload.session_id': { $exists: false }, video_id: session },
    ],
  };
}

function idOf(id: string): ObjectId | string {
  return /^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : id;
}

export async function readMark(store: MongoStore, experimentId: string): Promise<string | null> {
  try {
    const [doc] = await store
      .collection(experimentId)
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    return doc?._id instanceof ObjectId ? doc._id.toHexString() : null;
  } catch (err) {
    wrap(err, 'read');
  }
}

export async function* readEvents(store: MongoStore, q: ReadQuery): AsyncIterable<StoredEvent[]> {
  const and: Document[] = [];
  if (q.eventType !== undefined) and.push({ event_type: q.eventType });
  if (q.startTime !== undefined) and.push({ timestamp: { $gte: q.startTime } });
  if (q.endTime !== undefined) and.push({ timestamp: { $lte: q.endTime } });
  if (q.session !== undefined) and.push(sessionFilter(q.session));
  if (q.mark !== undefined) and.push({ _id: { $lte: idOf(q.mark) } });
  if (q.after) {
    and.push({
      $or: [
        { timestamp: { $gt: q.after.timestamp } },
        { timestamp: q.after.timestamp, _id: { $gt: idOf(q.after.id) } },
      ],
    });
  }
  const filter = and.length === 0 ? {} : and.length === 1 ? (and[0] as Document) : { $and: and };
  let cursor = store
    .collection(q.experimentId)
    .find(filter)
    .sort({ timestamp: 1, _id: 1 })
    .batchSize(READ_BATCH);
  if (q.limit !== undefined) cursor = cursor.limit(q.limit);
  try {
    let batch: StoredEvent[] = [];
    for await (const doc of cursor) {
      batch.push(docToEvent(doc));
      if (batch.length >= READ_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } catch (err) {
    wrap(err, 'read');
  } finally {
    await cursor.close().catch(() => {});
  }
}

/**
 * Sessions one at a time. Sorting on the three fields the key is chosen from makes each
 * session one contiguous run, without computed sort keys (which FerretDB cannot do); the
 * server sorts (allowDiskUse on MongoDB), so memory here is bounded by the largest session.
 */
export async function* readSessions(store: MongoStore, experimentId: string): AsyncIterable<StoredEvent[]> {
  const cursor = store
    .collection(experimentId)
    .find({}, { allowDiskUse: true })
    .sort({ session_id: 1, 'payload.session_id': 1, video_id: 1, timestamp: 1, _id: 1 })
    .batchSize(READ_BATCH);
  try {
    let current: StoredEvent[] = [];
    let key: string | undefined;
    for await (const doc of cursor) {
      const e = docToEvent(doc);
      const k = baseSessionKey(e).base;
      if (key !== undefined && k !== key) {
        yield current;
        current = [];
      }
      key = k;
      current.push(e);
    }
    if (current.length > 0) yield current;
  } catch (err) {
    wrap(err, 'read');
  } finally {
    await cursor.close().catch(() => {});
  }
}

async function experimentNames(store: MongoStore): Promise<string[]> {
  const cols = await store.db.listCollections({}, { nameOnly: true }).toArray();
  return cols
    .map((c) => c.name)
    .filter((n) => n.startsWith(COLLECTION_PREFIX))
    .map((n) => n.slice(COLLECTION_PREFIX.length))
    .sort();
}

async function edgeTimestamp(store: MongoStore, experimentId: string, dir: 1 | -1): Promise<number | null> {
  const [doc] = await store
    .collection(experimentId)
    .find({}, { projection: { timestamp: 1 } })
    .sort({ timestamp: dir, _id: dir })
    .limit(1)
    .toArray();
  return typeof doc?.timestamp === 'number' ? doc.timestamp : null;
}

export async function listExperiments(store: MongoStore): Promise<ExperimentSummary[]> {
  try {
    const out: ExperimentSummary[] = [];
    for (const id of await experimentNames(store)) {
      const col = store.collection(id);
      const count = await col.countDocuments({});
      if (count === 0) continue; // emptied by a delete (the collection keeps its indexes)
      const [first, last, types, groups] = await Promise.all([
        edgeTimestamp(store, id, 1),
        edgeTimestamp(store, id, -1),
        col.distinct('event_type'),
        col
          .aggregate([
            {
              $group: { _id: { s: '$session_id', p: '$payload.session_id', v: '$video_id' }, n: { $sum: 1 } },
            },
          ])
          .toArray(),
      ]);
      const keys = new Set(
        groups.map((g) => {
          const k = g._id as { s?: string; p?: unknown; v?: string };
          return sessionKeyOf({ session_id: k.s, payload: { session_id: k.p }, video_id: k.v ?? 'unknown' })
            .key;
        }),
      );
      out.push({
        experiment_id: id,
        count,
        first_timestamp: first,
        last_timestamp: last,
        event_types: (types as unknown[]).map(String).sort(),
        sessions: keys.size,
      });
    }
    return out;
  } catch (err) {
    wrap(err, 'read');
  }
}

/** One pass over the experiment's (projected) events, folded per session: memory O(sessions). */
export async function listSessions(store: MongoStore, experimentId: string): Promise<SessionSummary[]> {
  const cursor = store
    .collection(experimentId)
    .find(
      {},
      {
        projection: {
          _id: 0,
          session_id: 1,
          'payload.session_id': 1,
          video_id: 1,
          protocol: 1,
          timestamp: 1,
        },
      },
    )
    .batchSize(5000);
  const sessions = new Map<string, SessionSummary>();
  /**
   * The earliest protocol other than "cmcd" per session: CMCD reports sent before the player
   * knows its streaming format say "cmcd", and the session's protocol is the one it learns.
   */
  const known = new Map<string, { at: number; protocol: string }>();
  try {
    for await (const doc of cursor) {
      const { key, source } = sessionKeyOf(doc as unknown as StoredEvent);
      const ts = Number(doc.timestamp);
      const protocol = String(doc.protocol ?? '');
      if (protocol !== '' && protocol !== 'cmcd') {
        const k = known.get(key);
        if (!k || ts < k.at) known.set(key, { at: ts, protocol });
      }
      const s = sessions.get(key);
      if (!s) {
        sessions.set(key, {
          session_id: key,
          source,
          count: 1,
          first_timestamp: ts,
          last_timestamp: ts,
          video_id: String(doc.video_id ?? 'unknown'),
          protocol: String(doc.protocol ?? ''),
        });
        continue;
      }
      s.count++;
      if (source === 'session_id') s.source = 'session_id';
      if (ts < s.first_timestamp) {
        s.first_timestamp = ts;
        s.video_id = String(doc.video_id ?? 'unknown');
        s.protocol = String(doc.protocol ?? '');
      }
      if (ts > s.last_timestamp) s.last_timestamp = ts;
    }
  } catch (err) {
    wrap(err, 'read');
  } finally {
    await cursor.close().catch(() => {});
  }
  for (const [key, k] of known) {
    const s = sessions.get(key);
    if (s) s.protocol = k.protocol;
  }
  return [...sessions.values()].sort(
    (a, b) =>
      a.first_timestamp - b.first_timestamp ||
      (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0),
  );
}

/**
 * deleteMany rather than drop: the collection keeps the indexes the insert path made (above
 * all the unique event_id index), which it only creates once per process.
 */
export async function deleteExperiment(store: MongoStore, experimentId: string): Promise<number> {
  try {
    const r = await store.collection(experimentId).deleteMany({});
    return r.deletedCount;
  } catch (err) {
    wrap(err, 'delete');
  }
}
