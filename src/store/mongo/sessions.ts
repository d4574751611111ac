/**
 * Session summaries of the MongoDB store, one document per session in `stats_sessions` (the
 * fields of the embedded store's `sessions` table): how ingest updates them, how a row is
 * recomputed from its events, and how they are read.
 *
 * Delta updates never race with each other: a session's (first_ts, first_protocol), (video_at,
 * video_id) and (known_at, known_protocol) only ever change together, in one single-document update
 * conditional on the new timestamp being earlier, so concurrent writers (other instances on
 * the same database) converge on the earliest event whatever the order.
 */
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { MongoBulkWriteError } from 'mongodb';
import type { SessionQoe } from '../../qoe/types.ts';
import { type BaseKey, compareSessions, type SessionSource } from '../../sessions/key.ts';
import { runIndexAt } from '../../sessions/runs.ts';
import {
  addToDelta,
  CMCD_PROTOCOL,
  type Delta,
  newDelta,
  nextVersion,
  sessionProtocol,
  UNKNOWN_VIDEO,
} from '../../sessions/summary.ts';
import type { SessionRow, StaleSession } from '../types.ts';
import { DUPLICATE_KEY, eventsOf, idKey, type Mongo, sessionsOf, upsertRetried } from './docs.ts';

export const nowS = (): number => Date.now() / 1000;

/** The update operations that add a delta to its session's summary (in this order). */
export function deltaOps(exp: string, x: Delta, changedAt: number): AnyBulkWriteOperation<Document>[] {
  const id = { experiment_id: exp, session_key: x.key };
  const ops: AnyBulkWriteOperation<Document>[] = [
    {
      updateOne: {
        filter: id,
        update: {
          $inc: { count: x.count },
          $max: { last_ts: x.lastTs },
          $set: { version: nextVersion(), changed_at: changedAt, stale: true },
          $setOnInsert: {
            base_key: x.base,
            run_no: x.runNo,
            source: x.source,
            first_ts: x.firstTs,
            video_id: x.videoId,
            video_at: x.videoAt,
            first_protocol: x.firstProtocol,
            known_protocol: x.knownProtocol,
            known_at: x.knownAt,
          },
        },
        upsert: true,
      },
    },
    {
      updateOne: {
        filter: { ...id, first_ts: { $gt: x.firstTs } },
        update: { $set: { first_ts: x.firstTs, first_protocol: x.firstProtocol } },
      },
    },
  ];
  if (x.videoAt !== null) {
    ops.push({
      updateOne: {
        filter: { ...id, $or: [{ video_at: null }, { video_at: { $gt: x.videoAt } }] },
        update: { $set: { video_id: x.videoId, video_at: x.videoAt } },
      },
    });
  }
  if (x.knownAt !== null) {
    ops.push({
      updateOne: {
        filter: { ...id, $or: [{ known_at: null }, { known_at: { $gt: x.knownAt } }] },
        update: { $set: { known_protocol: x.knownProtocol, known_at: x.knownAt } },
      },
    });
  }
  return ops;
}

/**
 * Applies summary updates in order. An upsert that lost a race with another writer creating
 * the same session fails on the unique index: it is retried from there (it then matches).
 */
export async function applySummaryOps(m: Mongo, ops: AnyBulkWriteOperation<Document>[]): Promise<void> {
  let rest = ops;
  for (let attempt = 0; rest.length > 0; attempt++) {
    try {
      await sessionsOf(m).bulkWrite(rest, { ordered: true });
      return;
    } catch (err) {
      const first = err instanceof MongoBulkWriteError ? [err.writeErrors].flat()[0] : undefined;
      if (attempt >= 2 || first?.code !== DUPLICATE_KEY) throw err;
      rest = rest.slice(first.index);
    }
  }
}

/** One summary document, as written by a recompute or a rebuild. */
export function summaryDoc(exp: string, x: Delta, changedAt: number): Document {
  return {
    experiment_id: exp,
    session_key: x.key,
    base_key: x.base,
    run_no: x.runNo,
    source: x.source,
    count: x.count,
    first_ts: x.firstTs,
    last_ts: x.lastTs,
    video_id: x.videoId,
    video_at: x.videoAt,
    first_protocol: x.firstProtocol,
    known_protocol: x.knownProtocol,
    known_at: x.knownAt,
    version: nextVersion(),
    changed_at: changedAt,
    stale: true,
  };
}

/**
 * Rewrites one session's summary from its stored events (or removes it when it has none):
 * after a late event moved events between runs of a split base.
 */
export async function recomputeRow(
  m: Mongo,
  exp: string,
  key: string,
  bk: BaseKey,
  starts: readonly number[],
  changedAt: number,
): Promise<void> {
  const col = eventsOf(m, exp);
  const byTime = { timestamp: 1, _id: 1 } as const;
  const [count, first, last, known, video] = await Promise.all([
    col.countDocuments({ session_key: key }),
    col
      .find({ session_key: key }, { projection: { timestamp: 1, video_id: 1, protocol: 1 } })
      .sort(byTime)
      .limit(1)
      .next(),
    col
      .find({ session_key: key }, { projection: { timestamp: 1 } })
      .sort({ timestamp: -1, _id: -1 })
      .limit(1)
      .next(),
    col
      .find(
        { session_key: key, protocol: { $nin: ['', CMCD_PROTOCOL, null] } },
        { projection: { timestamp: 1, protocol: 1 } },
      )
      .sort(byTime)
      .limit(1)
      .next(),
    col
      .find(
        { session_key: key, video_id: { $nin: ['', UNKNOWN_VIDEO, null] } },
        { projection: { timestamp: 1, video_id: 1 } },
      )
      .sort(byTime)
      .limit(1)
      .next(),
  ]);
  const id = { experiment_id: exp, session_key: key };
  if (count === 0 || !first || !last) {
    await sessionsOf(m).deleteOne(id);
    return;
  }
  const x = newDelta(key, bk, bk.split ? runIndexAt(starts, first.timestamp) + 1 : 1, first as never, '');
  x.count = count;
  x.lastTs = last.timestamp as number;
  x.knownProtocol = known ? String(known.protocol) : null;
  x.knownAt = known ? (known.timestamp as number) : null;
  x.videoId = video ? String(video.video_id) : UNKNOWN_VIDEO;
  x.videoAt = video ? (video.timestamp as number) : null;
  await upsertRetried(() => sessionsOf(m).replaceOne(id, summaryDoc(exp, x, changedAt), { upsert: true }));
}

/** Folds events (any order) into per-session deltas: rebuilds and reads of unkeyed collections. */
export class SummaryFold {
  readonly sessions = new Map<string, Delta>();

  add(
    key: string,
    bk: BaseKey,
    starts: readonly number[] | undefined,
    doc: { _id?: unknown; timestamp: number; video_id?: unknown; protocol?: unknown },
  ): void {
    const id = idKey(doc._id);
    const x = this.sessions.get(key);
    if (x) addToDelta(x, doc, id);
    else {
      const runNo = bk.split && starts ? runIndexAt(starts, doc.timestamp) + 1 : 1;
      this.sessions.set(key, newDelta(key, bk, runNo, doc, id));
    }
  }
}

/** The session row of a summary document. */
export function toSessionRow(d: Document): SessionRow {
  return {
    session_id: String(d.session_key),
    source: d.source as SessionSource,
    count: d.count as number,
    first_timestamp: d.first_ts as number,
    last_timestamp: d.last_ts as number,
    video_id: String(d.video_id),
    protocol: sessionProtocol(d.known_protocol as string | null, String(d.first_protocol)),
    version: d.version as number,
    qoe: d.stale === false && typeof d.qoe === 'string' ? (JSON.parse(d.qoe) as SessionQoe) : null,
  };
}

/** A folded session as a row (unkeyed collections: never a cached QoE). */
export function deltaToRow(x: Delta): SessionRow {
  return {
    session_id: x.key,
    source: x.source,
    count: x.count,
    first_timestamp: x.firstTs,
    last_timestamp: x.lastTs,
    video_id: x.videoId,
    protocol: sessionProtocol(x.knownProtocol, x.firstProtocol),
    // Changes when the Flask server adds events (keys the warm-up cache of the QoE service).
    version: x.count * 1e6 + Math.round(x.lastTs * 1000) / 1000,
    qoe: null,
  };
}

const ROW_PROJECTION = { _id: 0, experiment_id: 0, base_key: 0, run_no: 0, known_at: 0, changed_at: 0 };

export async function listSessionRows(m: Mongo, exp: string): Promise<SessionRow[]> {
  const docs = await sessionsOf(m).find({ experiment_id: exp }, { projection: ROW_PROJECTION }).toArray();
  return docs.map(toSessionRow).sort(compareSessions);
}

export async function getSessionRow(m: Mongo, exp: string, key: string): Promise<SessionRow | null> {
  const d = await sessionsOf(m).findOne(
    { experiment_id: exp, session_key: key },
    { projection: ROW_PROJECTION },
  );
  return d ? toSessionRow(d) : null;
}

/** Caches a session's QoE unless its summary changed since `version` was read. */
export async function saveQoe(m: Mongo, exp: string, key: string, version: number, qoe: SessionQoe) {
  await sessionsOf(m).updateOne(
    { experiment_id: exp, session_key: key, version },
    { $set: { qoe: JSON.stringify(qoe), stale: false } },
  );
}

/** Stale sessions of every experiment, oldest change first (`skip`: experiments to leave out). */
export async function staleRows(
  m: Mongo,
  limit: number,
  changedBefore: number,
  skip: readonly string[],
): Promise<StaleSession[]> {
  const filter: Document = { stale: true, changed_at: { $lte: changedBefore } };
  if (skip.length > 0) filter.experiment_id = { $nin: [...skip] };
  const docs = await sessionsOf(m)
    .find(filter, { projection: { _id: 0, experiment_id: 1, session_key: 1, version: 1 } })
    .sort({ changed_at: 1 })
    .limit(limit)
    .toArray();
  return docs.map((d) => ({
    experiment_id: String(d.experiment_id),
    session_id: String(d.session_key),
    version: d.version as number,
  }));
}

/** Per experiment: the sum of its sessions' counts and how many sessions it has. */
export async function countsByExperiment(
  m: Mongo,
  match: Document = {},
): Promise<Map<string, { count: number; sessions: number }>> {
  // Two pipelines: FerretDB 1.24 computes only the first of several accumulators of a $group.
  const [sums, ns] = await Promise.all([
    sessionsOf(m)
      .aggregate([{ $match: match }, { $group: { _id: '$experiment_id', n: { $sum: '$count' } } }])
      .toArray(),
    sessionsOf(m)
      .aggregate([{ $match: match }, { $group: { _id: '$experiment_id', n: { $sum: 1 } } }])
      .toArray(),
  ]);
  const out = new Map<string, { count: number; sessions: number }>();
  for (const s of sums) out.set(String(s._id), { count: s.n as number, sessions: 0 });
  for (const s of ns) {
    const o = out.get(String(s._id));
    if (o) o.sessions = s.n as number;
  }
  return out;
}
