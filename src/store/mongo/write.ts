/**
 * Inserting one experiment's events with their sessions (the MongoDB twin of
 * src/store/sqlite/write-ops.ts; the same rule and the same results).
 *
 * Order of writes, so that a crash at any point leaves a state the repair finds (rebuild.ts):
 * a "writing" note on the experiment's `stats_experiments` document, the events, the moves of
 * stored events between runs of split bases, the session summaries, then the event types
 * together with the removal of the note.
 *
 * Split bases: events are keyed one by one in arrival order from neighbour facts
 * (src/sessions/runs.ts nextStarts), counting this group's earlier events; after the insert,
 * stored events of the base whose run changed are moved (rekeys) and the summaries of touched
 * runs are recomputed from their events. One process runs one write per experiment at a time
 * (the store's lock); several processes writing the same split base at once can race (the
 * summaries are then repaired by `stats-server rebuild-summaries`).
 */
import { type AnyBulkWriteOperation, type Document, MongoBulkWriteError, ObjectId } from 'mongodb';
import type { EventDoc } from '../../events/schema.ts';
import { type BaseKey, baseSessionKey, RUN_START_EVENT, runKey } from '../../sessions/key.ts';
import {
  keyAt,
  type NeighbourFacts,
  nextStarts,
  type RunPoint,
  rekeys,
  runIndexAt,
} from '../../sessions/runs.ts';
import { addToDelta, type Delta, newDelta } from '../../sessions/summary.ts';
import { DUPLICATE_KEY, eventsOf, experimentsOf, type Mongo, sessionsOf, upsertRetried } from './docs.ts';
import { applySummaryOps, deltaOps, nowS, recomputeRow } from './sessions.ts';

/** A split base during one group: run starts before and now, and this group's events. */
interface BaseState {
  bk: BaseKey;
  before: number[];
  starts: number[];
  lastTs: number;
  /** Latest timestamp stored before this group. */
  storedLast: number;
  pending: RunPoint[];
}

/** The event document as stored: spec fields, the session, then stored_at (as ingest has it). */
function toDoc(e: EventDoc, key: string, base: string | null): Document {
  const { stored_at, ...rest } = e;
  const doc: Document = { _id: new ObjectId(), ...rest, session_key: key };
  if (base !== null) doc.session_base = base;
  doc.stored_at = stored_at;
  return doc;
}

/** Facts about a base's neighbours of t, from the stored events and this group's earlier ones. */
async function neighbourFacts(m: Mongo, exp: string, st: BaseState, t: number): Promise<NeighbourFacts> {
  const col = eventsOf(m, exp);
  const base = st.bk.base;
  const one = (filter: Document, dir: 1 | -1) =>
    col
      .find({ session_base: base, ...filter }, { projection: { _id: 0, timestamp: 1 } })
      .sort({ timestamp: dir })
      .limit(1)
      .next();
  const [p, s, at] = await Promise.all([
    one({ timestamp: { $lt: t } }, -1),
    one({ timestamp: { $gt: t } }, 1),
    one({ timestamp: t }, 1),
  ]);
  let pred = p ? (p.timestamp as number) : null;
  let succ = s ? (s.timestamp as number) : null;
  let sameT = at !== null;
  for (const q of st.pending) {
    if (q.t < t && (pred === null || q.t > pred)) pred = q.t;
    if (q.t > t && (succ === null || q.t < succ)) succ = q.t;
    if (q.t === t) sameT = true;
  }
  let startEventAtSucc = false;
  if (succ !== null) {
    const at = succ;
    startEventAtSucc = st.pending.some((q) => q.t === at && q.start);
    if (!startEventAtSucc && s && s.timestamp === at) {
      startEventAtSucc = (await one({ timestamp: at, event_type: RUN_START_EVENT }, 1)) !== null;
    }
  }
  return { starts: st.starts, pred, succ, sameT, startEventAtSucc };
}

/** Positions (into `events`) of split-keyed events already stored or repeated in the group. */
async function knownDuplicates(
  m: Mongo,
  exp: string,
  events: readonly EventDoc[],
  idx: readonly number[],
  bks: readonly BaseKey[],
): Promise<Set<number>> {
  const dup = new Set<number>();
  const seen = new Set<string>();
  const ids: string[] = [];
  idx.forEach((i, p) => {
    const id = (events[i] as EventDoc).event_id;
    if (id === undefined || id === null) return;
    const split = (bks[p] as BaseKey).split;
    if (seen.has(id)) {
      if (split) dup.add(i);
      return;
    }
    seen.add(id);
    if (split) ids.push(id);
  });
  if (ids.length === 0) return dup;
  const stored = await eventsOf(m, exp)
    .find({ event_id: { $in: ids } }, { projection: { _id: 0, event_id: 1 } })
    .toArray();
  const storedIds = new Set(stored.map((d) => String(d.event_id)));
  idx.forEach((i, p) => {
    const id = (events[i] as EventDoc).event_id;
    if ((bks[p] as BaseKey).split && id !== undefined && id !== null && storedIds.has(id)) dup.add(i);
  });
  return dup;
}

/** Loads the run starts of the group's split bases (one find of their summaries). */
async function loadBases(m: Mongo, exp: string, bks: readonly BaseKey[]): Promise<Map<string, BaseState>> {
  const bases = new Map<string, BaseState>();
  for (const bk of bks) {
    if (bk.split && !bases.has(bk.base))
      bases.set(bk.base, {
        bk,
        before: [],
        starts: [],
        lastTs: Number.NEGATIVE_INFINITY,
        storedLast: Number.NEGATIVE_INFINITY,
        pending: [],
      });
  }
  if (bases.size === 0) return bases;
  const rows = await sessionsOf(m)
    .find(
      { experiment_id: exp, base_key: { $in: [...bases.keys()] } },
      { projection: { _id: 0, base_key: 1, first_ts: 1, last_ts: 1 } },
    )
    .toArray();
  for (const r of rows) {
    const st = bases.get(String(r.base_key));
    if (!st) continue;
    st.before.push(r.first_ts as number);
    st.lastTs = Math.max(st.lastTs, r.last_ts as number);
  }
  for (const st of bases.values()) {
    st.before.sort((a, b) => a - b);
    st.starts = [...st.before];
    st.storedLast = st.lastTs;
  }
  return bases;
}

/**
 * Notes in the experiment's `stats_experiments` document that this process (`token`) is
 * writing it, before any event is stored; the write's last update removes the note. A note
 * left behind means a write stopped between its events and its summaries (a crash, a lost
 * connection): rebuild.ts then compares and repairs. Creates the document for a new
 * experiment, marking it `legacy` when the collection already holds unkeyed documents (written
 * by the Flask server): those are read from scans until rebuilt.
 */
export async function markWriting(m: Mongo, exp: string, token: string): Promise<void> {
  const r = await upsertRetried(() =>
    experimentsOf(m).updateOne(
      { _id: exp as never },
      { $set: { [`writing.${token}`]: Date.now() }, $setOnInsert: { event_types: [] } },
      { upsert: true },
    ),
  );
  if (r.upsertedCount === 0) return;
  const unkeyed = await eventsOf(m, exp).findOne(
    { session_key: { $exists: false } },
    { projection: { _id: 1 } },
  );
  if (unkeyed) await experimentsOf(m).updateOne({ _id: exp as never }, { $set: { legacy: true } });
}

/**
 * Inserts events (indexes `idx` into `events`, all of experiment `exp`) with their sessions.
 * Returns how many were stored, the indexes of duplicates and of events the database refused
 * (with its reason), and split bases that must be re-derived because another writer stored
 * one of their events meanwhile or one of their events was refused.
 */
export async function insertGroup(
  m: Mongo,
  exp: string,
  events: readonly EventDoc[],
  idx: readonly number[],
  token: string,
): Promise<{
  inserted: number;
  duplicates: number[];
  refused: Array<{ index: number; message: string }>;
  resync: BaseKey[];
}> {
  const bks = idx.map((i) => baseSessionKey(events[i] as EventDoc));
  const anySplit = bks.some((b) => b.split);
  const dup = anySplit ? await knownDuplicates(m, exp, events, idx, bks) : new Set<number>();
  const bases = anySplit ? await loadBases(m, exp, bks) : new Map<string, BaseState>();

  // Split keys in arrival order, as the embedded store does event by event.
  for (let p = 0; p < idx.length; p++) {
    const bk = bks[p] as BaseKey;
    const i = idx[p] as number;
    if (!bk.split || dup.has(i)) continue;
    const e = events[i] as EventDoc;
    const st = bases.get(bk.base) as BaseState;
    const t = e.timestamp;
    const facts: NeighbourFacts =
      st.starts.length > 0 && t > st.lastTs
        ? { starts: st.starts, pred: st.lastTs, succ: null, sameT: false, startEventAtSucc: false }
        : await neighbourFacts(m, exp, st, t);
    const isStart = e.event_type === RUN_START_EVENT;
    st.starts = nextStarts(facts, t, isStart, m.gapS);
    st.pending.push({ t, start: isStart });
    if (t > st.lastTs) st.lastTs = t;
  }

  const docs: Document[] = [];
  const docIdx: number[] = [];
  const docBk: BaseKey[] = [];
  for (let p = 0; p < idx.length; p++) {
    const i = idx[p] as number;
    if (dup.has(i)) continue;
    const bk = bks[p] as BaseKey;
    const e = events[i] as EventDoc;
    const st = bk.split ? bases.get(bk.base) : undefined;
    docs.push(toDoc(e, st ? keyAt(bk.base, st.starts, e.timestamp) : bk.base, st ? bk.base : null));
    docIdx.push(i);
    docBk.push(bk);
  }

  const duplicates = [...dup];
  const refused: Array<{ index: number; message: string }> = [];
  /** Positions in `docs` not stored by this write (duplicates and refusals). */
  const failed = new Set<number>();
  let inserted = 0;
  if (docs.length > 0) {
    try {
      inserted = (await eventsOf(m, exp).insertMany(docs, { ordered: false })).insertedCount;
    } catch (err) {
      // Only "some were duplicates, all others inserted" counts as success. A network
      // failure also arrives as a MongoBulkWriteError (with no write errors): that is a
      // failure, never a success with nothing inserted.
      if (!(err instanceof MongoBulkWriteError)) throw err;
      // Only when every document is accounted for (stored, or refused with its own write
      // error) is this a partial success: duplicates are already stored, and any other
      // refusal (over 16 MiB of BSON, a key or value the server will not hold, a collection
      // validator) fails only its own event. Anything else may have stored nothing.
      const errors = [err.writeErrors].flat();
      if (errors.length === 0 || err.writeConcernError || err.insertedCount + errors.length !== docs.length)
        throw err;
      inserted = err.insertedCount;
      for (const w of errors) {
        failed.add(w.index);
        const i = docIdx[w.index] as number;
        if (w.code === DUPLICATE_KEY) duplicates.push(i);
        else refused.push({ index: i, message: w.errmsg ?? `write error ${w.code}` });
      }
    }
  }

  // Split bases where another writer stored one of our events, or one was refused (its run
  // starts counted it): re-derived as a whole.
  const resync = new Map<string, BaseKey>();
  for (const p of failed) {
    const bk = docBk[p] as BaseKey;
    if (bk.split) resync.set(bk.base, bk);
  }

  const changedAt = nowS();
  const touched = new Map<string, { bk: BaseKey; starts: number[] }>();
  const moves: AnyBulkWriteOperation<Document>[] = [];
  for (const st of bases.values()) {
    if (resync.has(st.bk.base)) continue;
    // Ranges after the stored events hold only this group's events, already keyed: no move,
    // and their sessions take deltas (a new run at the end of a base costs no recompute).
    const ranges = rekeys(st.bk.base, st.before, st.starts).ranges.filter((x) => x.from <= st.storedLast);
    for (const x of ranges) {
      const i0 = runIndexAt(st.before, x.from);
      const i1 = x.to === null ? st.before.length - 1 : runIndexAt(st.before, x.to);
      for (let i = i0; i <= i1; i++) touched.set(runKey(st.bk.base, i + 1), { bk: st.bk, starts: st.starts });
      touched.set(x.key, { bk: st.bk, starts: st.starts });
      const timestamp = x.to === null ? { $gte: x.from } : { $gte: x.from, $lt: x.to };
      moves.push({
        updateMany: {
          filter: { session_base: st.bk.base, timestamp },
          update: { $set: { session_key: x.key } },
        },
      });
    }
  }
  if (moves.length > 0) await eventsOf(m, exp).bulkWrite(moves, { ordered: true });

  // Everything else: deltas folded here, one bulk of summary updates.
  const deltas = new Map<string, Delta>();
  for (let p = 0; p < docs.length; p++) {
    if (failed.has(p)) continue;
    const d = docs[p] as Document;
    const bk = docBk[p] as BaseKey;
    const key = d.session_key as string;
    if (touched.has(key) || (bk.split && resync.has(bk.base))) continue;
    const id = (d._id as ObjectId).toHexString();
    const x = deltas.get(key);
    if (x) addToDelta(x, d as never, id);
    else {
      const st = bk.split ? bases.get(bk.base) : undefined;
      deltas.set(key, newDelta(key, bk, st ? runIndexAt(st.starts, d.timestamp) + 1 : 1, d as never, id));
    }
  }
  await Promise.all(
    [...touched].map(([key, { bk, starts }]) => recomputeRow(m, exp, key, bk, starts, changedAt)),
  );
  const ops = [...deltas.values()].flatMap((x) => deltaOps(exp, x, changedAt));
  if (ops.length > 0) await applySummaryOps(m, ops);

  // Last: the event types and time span, and the end of this write (see markWriting).
  const update: Document = { $unset: { [`writing.${token}`]: '' } };
  if (inserted > 0) {
    const types = new Set<string>();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    docs.forEach((d, p) => {
      if (failed.has(p)) return;
      types.add(String(d.event_type));
      first = Math.min(first, d.timestamp as number);
      last = Math.max(last, d.timestamp as number);
    });
    update.$addToSet = { event_types: { $each: [...types] } };
    update.$min = { first_ts: first };
    update.$max = { last_ts: last };
  }
  await experimentsOf(m).updateOne({ _id: exp as never }, update);
  return { inserted, duplicates, refused, resync: [...resync.values()] };
}
