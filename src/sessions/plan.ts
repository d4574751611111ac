/**
 * The session engine's write planner: given a group of events of one experiment and what the
 * store knows of their split bases (run starts, the newest stored timestamp, windows of stored
 * groups), it decides every event's session and what must change in the store, as a plan that
 * each store only executes (src/store/sqlite/write-ops.ts in one transaction,
 * src/store/mongo/write.ts in bulk writes). Pure: no store, no I/O.
 *
 * A base's events are placed in time order from bounded windows of groups (runs.ts
 * changedStarts): the newest events of a base are placed from its tail window, which the store
 * keeps between groups, with no read; an older event needs a window around it, which the store
 * reads first (`missingWindows`), all of a group's at once.
 */
import type { BaseKey, SessionSource } from './key.ts';
import {
  applyChange,
  changedStarts,
  combineRoles,
  cutGroups,
  keyAt,
  type RunGroup,
  type RunPoint,
  type RunRole,
  type RunSpan,
  type RunWindow,
  rekeys,
  runSpans,
  WINDOW_BEFORE,
  windowCovers,
} from './runs.ts';
import { addToDelta, type Delta, newDelta } from './summary.ts';

/** What a store knows of one split base before a group: kept between groups by the store. */
export interface BaseState {
  base: string;
  source: SessionSource;
  /** Run starts, ascending ([] for a new base). */
  starts: number[];
  /** Newest stored timestamp of the base (-Infinity for a new base). */
  storedLast: number;
  /** The base's last stored groups (toEnd): enough to place its newest events. */
  tail: RunWindow;
}

/** A new base: nothing stored. */
export function emptyBase(base: string, source: SessionSource): BaseState {
  return {
    base,
    source,
    starts: [],
    storedLast: Number.NEGATIVE_INFINITY,
    tail: { prevT: null, groups: [], toEnd: true },
  };
}

/** One event as the planner sees it. */
export interface PlanEvent {
  /** The store's id of the event (summary ties are broken by it). */
  id: string;
  timestamp: number;
  bk: BaseKey;
  role: RunRole;
  video_id?: unknown;
  protocol?: unknown;
}

/** What a store must do for one split base. */
export interface BasePlan {
  base: string;
  source: SessionSource;
  /** Run starts after the group. */
  starts: number[];
  /** Stored events whose session id changes: time ranges of the base and their new id. */
  ranges: Array<{ from: number; to: number | null; key: string }>;
  /** Summaries that keep their contents under a new id (their run's number changed). */
  renamed: Array<{ from: string; to: string; runNo: number }>;
  /** Runs whose summaries are made again from their stored events, after the insert. */
  recompute: RunSpan[];
  /** Summaries of runs that no longer exist. */
  gone: string[];
  /** The base's state once the group is stored (the store keeps it only after committing). */
  next: BaseState;
}

export interface GroupPlan {
  /** Each event's session id, in input order. */
  keys: string[];
  bases: BasePlan[];
  /** Summary deltas of every event not in a recomputed run, by session. */
  deltas: Delta[];
}

/** Stored windows of one base around some timestamps, merged as they come. */
class Windows {
  readonly list: RunWindow[] = [];

  constructor(tail: RunWindow) {
    // The tail is the store's copy: the planner adds the group's events to its own.
    this.list.push({ prevT: tail.prevT, groups: [...tail.groups], toEnd: tail.toEnd });
  }

  covering(t: number): RunWindow | undefined {
    return this.list.find((w) => windowCovers(w, t));
  }

  /** Adds a window read from the store (the same snapshot as the others). */
  add(w: RunWindow): void {
    const merged: RunWindow = { prevT: w.prevT, groups: [...w.groups], toEnd: w.toEnd };
    for (let i = this.list.length - 1; i >= 0; i--) {
      const o = this.list[i] as RunWindow;
      if (!overlaps(o, merged)) continue;
      this.list.splice(i, 1);
      const byT = new Map<number, RunGroup>();
      for (const g of [...o.groups, ...merged.groups]) {
        const had = byT.get(g.t);
        byT.set(g.t, had ? { t: g.t, role: combineRoles(had.role, g.role) } : g);
      }
      const first = (x: RunWindow) => x.groups[0]?.t ?? Number.POSITIVE_INFINITY;
      merged.prevT = first(o) <= first(merged) ? o.prevT : merged.prevT;
      merged.groups = [...byT.values()].sort((a, b) => a.t - b.t);
      merged.toEnd = o.toEnd || merged.toEnd;
    }
    this.list.push(merged);
  }
}

/** Windows of one snapshot that touch or overlap (so one can continue the other). */
function overlaps(a: RunWindow, b: RunWindow): boolean {
  const range = (w: RunWindow): [number, number] => [
    w.prevT ?? Number.NEGATIVE_INFINITY,
    w.toEnd ? Number.POSITIVE_INFINITY : (w.groups.at(-1)?.t ?? w.prevT ?? Number.NEGATIVE_INFINITY),
  ];
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** Plans the groups of one experiment's events (see the module comment). */
export class GroupPlanner {
  readonly #gapS: number;
  readonly #states: Map<string, BaseState>;
  readonly #windows = new Map<string, Windows>();

  /** `states`: every split base of the group, as the store knows it. */
  constructor(gapS: number, states: Map<string, BaseState>) {
    this.#gapS = gapS;
    this.#states = states;
    for (const [base, st] of states) this.#windows.set(base, new Windows(st.tail));
  }

  /** The (base, timestamp) pairs whose windows the store must read before `plan`. */
  missingWindows(events: readonly PlanEvent[]): Array<{ base: string; t: number }> {
    const out: Array<{ base: string; t: number }> = [];
    for (const e of events) {
      if (!e.bk.split) continue;
      const w = this.#windows.get(e.bk.base);
      if (!w) throw new Error(`no state for base ${e.bk.base}`);
      if (!w.covering(e.timestamp)) out.push({ base: e.bk.base, t: e.timestamp });
    }
    return out;
  }

  /** A window the store read for `missingWindows`. */
  addWindow(base: string, w: RunWindow): void {
    this.#windows.get(base)?.add(w);
  }

  /**
   * Every event's session and the store's work. Events of a base are placed in time order
   * (the split does not depend on order); events whose window is missing are an error.
   */
  plan(events: readonly PlanEvent[]): GroupPlan {
    const bySplitBase = new Map<string, number[]>();
    events.forEach((e, i) => {
      if (!e.bk.split) return;
      const list = bySplitBase.get(e.bk.base);
      if (list) list.push(i);
      else bySplitBase.set(e.bk.base, [i]);
    });
    const keys: string[] = events.map((e) => e.bk.base);
    const bases: BasePlan[] = [];
    const recomputed = new Set<string>();
    const runNoOf = new Map<string, number>();
    for (const [base, idx] of bySplitBase) {
      const st = this.#states.get(base) as BaseState;
      const windows = this.#windows.get(base) as Windows;
      let starts = st.starts;
      const order = [...idx].sort(
        (a, b) => (events[a] as PlanEvent).timestamp - (events[b] as PlanEvent).timestamp,
      );
      for (const i of order) {
        const e = events[i] as PlanEvent;
        const w = windows.covering(e.timestamp);
        if (!w) throw new Error(`no window of base ${base} around ${e.timestamp}`);
        starts = applyChange(starts, changedStarts(w, e.timestamp, e.role, this.#gapS));
      }
      for (const i of idx) keys[i] = keyAt(base, starts, (events[i] as PlanEvent).timestamp);
      const r = rekeys(base, st.starts, starts, st.storedLast);
      const spans = new Map(runSpans(base, starts).map((s) => [s.key, s]));
      for (const s of spans.values()) runNoOf.set(s.key, s.runNo);
      const recompute = r.recompute.map((k) => spans.get(k) as RunSpan);
      for (const s of recompute) recomputed.add(s.key);
      bases.push({
        base,
        source: st.source,
        starts,
        ranges: r.ranges,
        renamed: r.renamed.map((x) => ({ ...x, runNo: (spans.get(x.to) as RunSpan).runNo })),
        recompute,
        gone: r.gone,
        next: nextState(
          st,
          windows,
          starts,
          idx.map((i) => events[i] as PlanEvent),
        ),
      });
    }
    const deltas = new Map<string, Delta>();
    events.forEach((e, i) => {
      const key = keys[i] as string;
      if (e.bk.split && recomputed.has(key)) return;
      // Runs and explicit sessions are apart even when their ids are equal.
      const slot = `${e.bk.split ? 'r' : 's'}\u0000${key}`;
      const d = deltas.get(slot);
      if (d) addToDelta(d, e, e.id);
      else deltas.set(slot, newDelta(key, e.bk, e.bk.split ? (runNoOf.get(key) ?? 1) : 1, e, e.id));
    });
    return { keys, bases, deltas: [...deltas.values()] };
  }
}

/**
 * A base's state once the group is stored: its starts, newest timestamp and tail (the group's
 * events are in the planner's windows already; the tail keeps the last groups).
 */
function nextState(st: BaseState, windows: Windows, starts: number[], evs: readonly PlanEvent[]): BaseState {
  let storedLast = st.storedLast;
  for (const e of evs) if (e.timestamp > storedLast) storedLast = e.timestamp;
  const tail = windows.list.find((w) => w.toEnd) as RunWindow;
  const keep = WINDOW_BEFORE + 1;
  const cut = tail.groups.length - keep;
  return {
    base: st.base,
    source: st.source,
    starts,
    storedLast,
    tail:
      cut > 0
        ? { prevT: (tail.groups[cut - 1] as RunGroup).t, groups: tail.groups.slice(cut), toEnd: true }
        : { prevT: tail.prevT, groups: [...tail.groups], toEnd: true },
  };
}

/** Whole groups read in one direction: the wanted groups and the timestamp just past them. */
export type GroupCut = NonNullable<ReturnType<typeof cutGroups>>;

/**
 * How a store reads `want` whole groups of a base: it asks for rows up to each limit this
 * yields (in timestamp order, either direction) and sends them back as points, until the
 * generator returns the groups (runs.ts cutGroups). Stores drive it synchronously (SQLite,
 * inside its transaction) or with awaits (MongoDB).
 */
export function* wholeGroups(want: number): Generator<number, GroupCut, RunPoint[]> {
  for (let limit = 4 * want; ; limit *= 4) {
    const cut = cutGroups(yield limit, limit, want);
    if (cut) return cut;
  }
}

/** A base's state from its runs' spans and its last groups (read newest first). */
export function baseStateOf(
  bk: Pick<BaseKey, 'base' | 'source'>,
  runs: ReadonlyArray<{ first_ts: number; last_ts: number }>,
  tail: GroupCut,
): BaseState {
  if (runs.length === 0) return emptyBase(bk.base, bk.source);
  return {
    base: bk.base,
    source: bk.source,
    starts: runs.map((r) => r.first_ts).sort((a, b) => a - b),
    storedLast: runs.reduce((x, r) => Math.max(x, r.last_ts), Number.NEGATIVE_INFINITY),
    tail: { prevT: tail.edge, groups: [...tail.groups].reverse(), toEnd: true },
  };
}

/** The groups the planner needs around t: read before t (newest first), and from t on. */
export function windowOf(before: GroupCut, after: GroupCut): RunWindow {
  return {
    prevT: before.edge,
    groups: [...[...before.groups].reverse(), ...after.groups],
    toEnd: after.edge === null,
  };
}
