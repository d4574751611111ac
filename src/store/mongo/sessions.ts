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
import { type RunSpan, runIndexAt } from '../../sessions/runs.ts';
import { addToDelta, type Delta, newDelta, nextVersion, sessionProtocol } from '../../sessions/summary.ts';
import type { SessionRow, StaleSession } from '../types.ts';
import { DUPLICATE_KEY, eventsOf, idKey, type Mongo, sessionsOf } from './docs.ts';

export const nowS = (): number => Date.now() / 1000;

/** `kind` of a summary document: a run of a split base or an explicit session (never one row). */
export const KIND_SESSION = 0;
export const KIND_RUN = 1;
export const kindOf = (x: Pick<Delta, 'base'>): number => (x.base === null ? KIND_SESSION : KIND_RUN);

/** "t (then ref) is earlier than the stored `at` (then `ref`) field, or nothing is stored". */
const earlier = (at: string, ref: string, t: number, id: string): Document => ({
  $or: [{ [at]: null }, { [at]: { $gt: t } }, { [at]: t, [ref]: { $gt: id } }],
});

/**
 * The update operations that add a delta to its session's summary (in this order): counts
 * add up; the earliest event (ties: the smaller id) gives the first protocol, the video and
 * the known protocol (src/sessions/summary.ts is the rule).
 */
export function deltaOps(exp: string, x: Delta, changedAt: number): AnyBulkWriteOperation<Document>[] {
  const id = { experiment_id: exp, session_key: x.key, kind: kindOf(x) };
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
            first_id: x.firstId,
            video_id: x.videoId,
            video_at: x.videoAt,
            video_ref: x.videoRef,
            first_protocol: x.firstProtocol,
            known_protocol: x.knownProtocol,
            known_at: x.knownAt,
            known_ref: x.knownId,
          },
        },
        upsert: true,
      },
    },
    {
      updateOne: {
        filter: { ...id, ...earlier('first_ts', 'first_id', x.firstTs, x.firstId) },
        update: { $set: { first_ts: x.firstTs, first_id: x.firstId, first_protocol: x.firstProtocol } },
      },
    },
  ];
  if (x.videoAt !== null) {
    ops.push({
      updateOne: {
        filter: { ...id, ...earlier('video_at', 'video_ref', x.videoAt, x.videoRef) },
        update: { $set: { video_id: x.videoId, video_at: x.videoAt, video_ref: x.videoRef } },
      },
    });
  }
  if (x.knownAt !== null) {
    ops.push({
      updateOne: {
        filter: { ...id, ...earlier('known_at', 'known_ref', x.knownAt, x.knownId) },
        update: { $set: { known_protocol: x.knownProtocol, known_at: x.knownAt, known_ref: x.knownId } },
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
    kind: kindOf(x),
    base_key: x.base,
    run_no: x.runNo,
    source: x.source,
    count: x.count,
    first_ts: x.firstTs,
    first_id: x.firstId,
    last_ts: x.lastTs,
    video_id: x.videoId,
    video_at: x.videoAt,
    video_ref: x.videoRef,
    first_protocol: x.firstProtocol,
    known_protocol: x.knownProtocol,
    known_at: x.knownAt,
    known_ref: x.knownId,
    version: nextVersion(),
    changed_at: changedAt,
    stale: true,
  };
}

/** One run's summary made again from its stored events (a time range of its base). */
export async function recomputeSpan(
  m: Mongo,
  exp: string,
  bk: BaseKey,
  span: RunSpan,
  changedAt: number,
): Promise<AnyBulkWriteOperation<Document>> {
  const timestamp = span.to === null ? { $gte: span.from } : { $gte: span.from, $lt: span.to };
  const docs = await eventsOf(m, exp)
    .find({ session_base: bk.base, timestamp }, { projection: { timestamp: 1, video_id: 1, protocol: 1 } })
    .sort({ timestamp: 1, _id: 1 })
    .toArray();
  const filter = { experiment_id: exp, session_key: span.key, kind: KIND_RUN };
  let x: Delta | undefined;
  for (const d of docs) {
    if (x) addToDelta(x, d as never, idKey(d._id));
    else x = newDelta(span.key, bk, span.runNo, d as never, idKey(d._id));
  }
  if (!x) return { deleteOne: { filter } };
  return { replaceOne: { filter, replacement: summaryDoc(exp, x, changedAt), upsert: true } };
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
    const slot = `${bk.split ? 'r' : 's'}\u0000${key}`;
    const x = this.sessions.get(slot);
    if (x) addToDelta(x, doc, id);
    else {
      const runNo = bk.split && starts ? runIndexAt(starts, doc.timestamp) + 1 : 1;
      this.sessions.set(slot, newDelta(key, bk, runNo, doc, id));
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
    base: d.kind === KIND_RUN ? String(d.base_key) : null,
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
    base: x.base,
  };
}

const ROW_PROJECTION = { _id: 0, experiment_id: 0, run_no: 0, known_at: 0, changed_at: 0 };

export async function listSessionRows(m: Mongo, exp: string): Promise<SessionRow[]> {
  const docs = await sessionsOf(m).find({ experiment_id: exp }, { projection: ROW_PROJECTION }).toArray();
  return docs.map(toSessionRow).sort(compareSessions);
}

/** One session by id: the explicit session when there is one, else the run (`run` picks one). */
export async function getSessionRow(
  m: Mongo,
  exp: string,
  key: string,
  run?: boolean,
): Promise<SessionRow | null> {
  const filter: Document = { experiment_id: exp, session_key: key };
  if (run !== undefined) filter.kind = run ? KIND_RUN : { $ne: KIND_RUN };
  const docs = await sessionsOf(m).find(filter, { projection: ROW_PROJECTION }).limit(2).toArray();
  const d = docs.find((x) => x.kind !== KIND_RUN) ?? docs[0];
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

/**
 * Per experiment from its summaries: events, sessions and time span (one read of the summary
 * rows: cost in sessions, not events).
 */
export async function spansByExperiment(
  m: Mongo,
): Promise<Map<string, { count: number; sessions: number; first: number; last: number }>> {
  const docs = await sessionsOf(m)
    .find({}, { projection: { _id: 0, experiment_id: 1, count: 1, first_ts: 1, last_ts: 1 } })
    .toArray();
  const out = new Map<string, { count: number; sessions: number; first: number; last: number }>();
  for (const d of docs) {
    const id = String(d.experiment_id);
    let o = out.get(id);
    if (!o) {
      o = { count: 0, sessions: 0, first: Number.POSITIVE_INFINITY, last: Number.NEGATIVE_INFINITY };
      out.set(id, o);
    }
    o.count += d.count as number;
    o.sessions++;
    o.first = Math.min(o.first, d.first_ts as number);
    o.last = Math.max(o.last, d.last_ts as number);
  }
  return out;
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
