/**
 * Inserting one experiment's events with their sessions: the MongoDB executor of the session
 * engine's plan (src/sessions/plan.ts), which the embedded store executes too
 * (src/store/sqlite/split-ops.ts).
 *
 * A group costs, in the common case (the newest events of their runs, or a new run at the
 * end), two round trips: the insert of the events, then one bulk write of the summaries. A
 * split base's state (its run starts and last groups) is kept between groups by the store
 * (index.ts); an older event needs a window of its base's stored groups, read for all of a
 * group's older events at once before the insert. When run starts change before the newest
 * stored event, stored events move between runs (one updateMany per moved range) and the runs
 * whose events changed are made again from their events.
 *
 * Order of writes, so that a crash at any point leaves a state the repair finds (rebuild.ts):
 * a "writing" lease on the experiment's `stats_experiments` document (renewed only when it
 * gets old, not per group), the events, the moves of stored events between runs, the session
 * summaries. One process runs one write per experiment at a time (the store's lock).
 */
import { type AnyBulkWriteOperation, type Document, MongoBulkWriteError, ObjectId } from 'mongodb';
import type { EventDoc } from '../../events/schema.ts';
import { type BaseKey, baseSessionKey } from '../../sessions/key.ts';
import {
  type BasePlan,
  type BaseState,
  baseStateOf,
  type GroupCut,
  GroupPlanner,
  type PlanEvent,
  wholeGroups,
  windowOf,
} from '../../sessions/plan.ts';
import {
  type RunPoint,
  type RunWindow,
  runRoleOf,
  WINDOW_AFTER,
  WINDOW_BEFORE,
} from '../../sessions/runs.ts';
import { addToDelta, type Delta, newDelta, nextVersion } from '../../sessions/summary.ts';
import { DUPLICATE_KEY, eventsOf, type Mongo, sessionsOf } from './docs.ts';
import { applySummaryOps, deltaOps, KIND_RUN, nowS, recomputeSpan } from './sessions.ts';

/** The event document as stored: spec fields, the session, then stored_at (as ingest has it). */
function toDoc(e: EventDoc, id: ObjectId, key: string, base: string | null): Document {
  const { stored_at, ...rest } = e;
  const doc: Document = { _id: id, ...rest, session_key: key };
  if (base !== null) doc.session_base = base;
  doc.stored_at = stored_at;
  return doc;
}

const GROUP_PROJECTION = {
  _id: 0,
  timestamp: 1,
  event_type: 1,
  'payload.type': 1,
  'payload.buffer_level': 1,
};

const pointOf = (d: Document): RunPoint => ({ t: d.timestamp as number, role: runRoleOf(d as never) });

/** Whole groups of a base read in one direction (plan.ts wholeGroups). */
async function readGroups(
  m: Mongo,
  exp: string,
  base: string,
  timestamp: Document | undefined,
  dir: 1 | -1,
  want: number,
): Promise<GroupCut> {
  const filter: Document = { session_base: base };
  if (timestamp) filter.timestamp = timestamp;
  const g = wholeGroups(want);
  let step = g.next();
  while (!step.done) {
    const docs = await eventsOf(m, exp)
      .find(filter, { projection: GROUP_PROJECTION })
      .sort({ timestamp: dir })
      .limit(step.value)
      .toArray();
    step = g.next(docs.map(pointOf));
  }
  return step.value;
}

/** A split base's state read from the store: its runs' spans and its last groups. */
export async function loadBase(m: Mongo, exp: string, bk: BaseKey): Promise<BaseState> {
  const [runs, tail] = await Promise.all([
    sessionsOf(m)
      .find(
        { experiment_id: exp, base_key: bk.base, kind: KIND_RUN },
        { projection: { _id: 0, first_ts: 1, last_ts: 1 } },
      )
      .toArray(),
    readGroups(m, exp, bk.base, undefined, -1, WINDOW_BEFORE + 1),
  ]);
  return baseStateOf(bk, runs as unknown as Array<{ first_ts: number; last_ts: number }>, tail);
}

/** The stored groups of a base around t that the planner needs (runs.ts windowCovers). */
async function windowAt(m: Mongo, exp: string, base: string, t: number): Promise<RunWindow> {
  const [before, after] = await Promise.all([
    readGroups(m, exp, base, { $lt: t }, -1, WINDOW_BEFORE),
    readGroups(m, exp, base, { $gte: t }, 1, WINDOW_AFTER + 1),
  ]);
  return windowOf(before, after);
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

/** Base states a store keeps between groups (by experiment and base). */
export type BaseStates = Map<string, BaseState>;

const stateId = (exp: string, base: string) => `${exp}\u0000${base}`;

export interface GroupResult {
  inserted: number;
  duplicates: number[];
  refused: Array<{ index: number; message: string }>;
  /** Split bases whose summaries must be re-derived (an event of theirs was refused). */
  resync: BaseKey[];
  /** Event types of the stored events. */
  types: Set<string>;
}

/**
 * Inserts events (indexes `idx` into `events`, all of experiment `exp`) with their sessions.
 * `states` is the store's copy of split bases' states: read when missing, replaced once the
 * group is stored, and dropped for a base whose write failed half-way.
 */
export async function insertGroup(
  m: Mongo,
  exp: string,
  events: readonly EventDoc[],
  idx: readonly number[],
  states: BaseStates,
): Promise<GroupResult> {
  const bks = idx.map((i) => baseSessionKey(events[i] as EventDoc));
  const anySplit = bks.some((b) => b.split);
  const dup = anySplit ? await knownDuplicates(m, exp, events, idx, bks) : new Set<number>();

  // The plan: states of the group's split bases, then windows for older events, all at once.
  const planned: number[] = [];
  const evs: PlanEvent[] = [];
  const ids: ObjectId[] = [];
  idx.forEach((i, p) => {
    if (dup.has(i)) return;
    const e = events[i] as EventDoc;
    const bk = bks[p] as BaseKey;
    const id = new ObjectId();
    planned.push(i);
    ids.push(id);
    evs.push({
      id: id.toHexString(),
      timestamp: e.timestamp,
      bk,
      role: bk.split ? runRoleOf(e) : 0,
      video_id: e.video_id,
      protocol: e.protocol,
    });
  });
  const groupStates = new Map<string, BaseState>();
  const toLoad = new Map<string, BaseKey>();
  for (const e of evs) {
    if (!e.bk.split || groupStates.has(e.bk.base)) continue;
    const kept = states.get(stateId(exp, e.bk.base));
    if (kept) groupStates.set(e.bk.base, kept);
    else toLoad.set(e.bk.base, e.bk);
  }
  await Promise.all(
    [...toLoad.values()].map(async (bk) => groupStates.set(bk.base, await loadBase(m, exp, bk))),
  );
  const planner = new GroupPlanner(m.gapS, groupStates);
  const missing = planner.missingWindows(evs);
  const windows = await Promise.all(missing.map((x) => windowAt(m, exp, x.base, x.t)));
  missing.forEach((x, n) => {
    planner.addWindow(x.base, windows[n] as RunWindow);
  });
  const plan = planner.plan(evs);

  const docs = planned.map((i, n) => {
    const bk = (evs[n] as PlanEvent).bk;
    return toDoc(
      events[i] as EventDoc,
      ids[n] as ObjectId,
      plan.keys[n] as string,
      bk.split ? bk.base : null,
    );
  });
  const duplicates = [...dup];
  const refused: Array<{ index: number; message: string }> = [];
  /** Positions in `docs` not stored by this write (duplicates and refusals). */
  const failed = new Set<number>();
  let inserted = 0;
  if (docs.length > 0) {
    try {
      inserted = (await eventsOf(m, exp).insertMany(docs, { ordered: false })).insertedCount;
    } catch (err) {
      // What was read for this group may no longer hold.
      for (const b of groupStates.keys()) states.delete(stateId(exp, b));
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
        const i = planned[w.index] as number;
        if (w.code === DUPLICATE_KEY) duplicates.push(i);
        else refused.push({ index: i, message: w.errmsg ?? `write error ${w.code}` });
      }
    }
  }

  // Split bases with an event not stored (another writer stored it, or it was refused): the
  // plan counted it, so they are re-derived as a whole (index.ts).
  const resync = new Map<string, BaseKey>();
  for (const p of failed) {
    const bk = (evs[p] as PlanEvent).bk;
    if (bk.split) resync.set(bk.base, bk);
  }
  const types = new Set<string>();
  docs.forEach((d, p) => {
    if (!failed.has(p)) types.add(String(d.event_type));
  });

  const changedAt = nowS();
  const bases = plan.bases.filter((b) => !resync.has(b.base));
  await moveEvents(m, exp, bases);
  const ops: AnyBulkWriteOperation<Document>[] = [];
  for (const b of bases) ops.push(...(await summaryChanges(m, exp, b, changedAt)));
  // Deltas of explicit sessions with a refused event are made again without it.
  const refusedIn = new Set<string>();
  for (const p of failed) if (!(evs[p] as PlanEvent).bk.split) refusedIn.add((evs[p] as PlanEvent).bk.base);
  for (const d of plan.deltas) {
    if (d.base !== null ? resync.has(d.base) : refusedIn.has(d.key)) continue;
    ops.push(...deltaOps(exp, d, changedAt));
  }
  if (refusedIn.size > 0) {
    const redone = new Map<string, Delta>();
    evs.forEach((e, p) => {
      if (failed.has(p) || e.bk.split || !refusedIn.has(e.bk.base)) return;
      const x = redone.get(e.bk.base);
      if (x) addToDelta(x, e, e.id);
      else redone.set(e.bk.base, newDelta(e.bk.base, e.bk, 1, e, e.id));
    });
    for (const x of redone.values()) ops.push(...deltaOps(exp, x, changedAt));
  }
  try {
    if (ops.length > 0) await applySummaryOps(m, ops);
  } catch (err) {
    for (const b of groupStates.keys()) states.delete(stateId(exp, b));
    throw err;
  }
  for (const b of bases) states.set(stateId(exp, b.base), b.next);
  for (const bk of resync.values()) states.delete(stateId(exp, bk.base));
  return { inserted, duplicates, refused, resync: [...resync.values()], types };
}

/** Stored events that change runs: one updateMany per moved range, in one bulk write. */
async function moveEvents(m: Mongo, exp: string, bases: readonly BasePlan[]): Promise<void> {
  const moves: AnyBulkWriteOperation<Document>[] = [];
  for (const b of bases) {
    for (const x of b.ranges) {
      const timestamp = x.to === null ? { $gte: x.from } : { $gte: x.from, $lt: x.to };
      moves.push({
        updateMany: { filter: { session_base: b.base, timestamp }, update: { $set: { session_key: x.key } } },
      });
    }
  }
  if (moves.length > 0) await eventsOf(m, exp).bulkWrite(moves, { ordered: true });
}

/** A base's renamed, recomputed and gone run summaries as summary writes. */
async function summaryChanges(
  m: Mongo,
  exp: string,
  b: BasePlan,
  changedAt: number,
): Promise<AnyBulkWriteOperation<Document>[]> {
  const ops: AnyBulkWriteOperation<Document>[] = [];
  const renamedFrom = b.renamed.map((x) => x.from);
  const old =
    renamedFrom.length === 0
      ? []
      : await sessionsOf(m)
          .find(
            { experiment_id: exp, session_key: { $in: renamedFrom }, kind: KIND_RUN },
            { projection: { _id: 0 } },
          )
          .toArray();
  const byKey = new Map(old.map((d) => [String(d.session_key), d]));
  const drop = [...renamedFrom, ...b.recompute.map((s) => s.key), ...b.gone];
  if (drop.length > 0)
    ops.push({ deleteMany: { filter: { experiment_id: exp, session_key: { $in: drop }, kind: KIND_RUN } } });
  for (const x of b.renamed) {
    const d = byKey.get(x.from);
    if (!d) continue;
    // The cached QoE names its session: it follows the new id.
    const qoe =
      typeof d.qoe === 'string' ? JSON.stringify({ ...JSON.parse(d.qoe), session_id: x.to }) : d.qoe;
    const document = {
      ...d,
      session_key: x.to,
      run_no: x.runNo,
      qoe,
      version: nextVersion(),
      changed_at: changedAt,
    };
    ops.push({ insertOne: { document } });
  }
  const bk: BaseKey = { base: b.base, source: b.source, split: true };
  ops.push(...(await Promise.all(b.recompute.map((s) => recomputeSpan(m, exp, bk, s, changedAt)))));
  return ops;
}
