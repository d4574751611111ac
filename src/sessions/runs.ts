/**
 * Splitting a fallback session key (src/sessions/key.ts) into runs: the testbed's page sends no
 * session id and its runner reuses one experiment id and one manifest URL for every run of a
 * scenario, so the runs of a base are told apart here. The rule, on the base's events grouped
 * by timestamp (events at one timestamp always share a run):
 *
 * - the first group of the base starts a run, and so does the first group after a silence
 *   longer than the split gap;
 * - a `stream_initialized` starts a run, which begins at the first event of the player's new
 *   load: dash.js 4 loads the init segments, starts the first media segments and reports empty
 *   buffers *before* it fires STREAM_INITIALIZED (measured with the testbed's page), so the
 *   run reaches back over the "load" groups just before it (segment loads, zero buffer levels),
 *   at most PREROLL_MAX_GROUPS of them, each within PREROLL_GAP_S of the next; anything else
 *   (a buffer level above zero) or a longer silence ends the reach. A run that would then hold
 *   only such load events merges into the new one, so no ghost session is left.
 *
 * Runs are numbered in time order. The split is a function of the set of stored events, never
 * of their arrival order: `startsOf` computes it from a base's groups, and `changedStarts`
 * updates it for one new event from a bounded window of groups around it, which is what
 * ingest uses (test/unit/sessions.runs.test.ts checks that the two agree for every order).
 */
import { RUN_START_EVENT, runKey } from './key.ts';

/** What an event means to the split: it starts a run, it belongs to a new load, or neither. */
export const RunRole = { other: 0, load: 1, start: 2 } as const;
export type RunRole = (typeof RunRole)[keyof typeof RunRole];

/** Load groups a run start reaches back over (dash.js sends 6-12 before STREAM_INITIALIZED). */
export const PREROLL_MAX_GROUPS = 24;
/**
 * The longest silence between two load groups of one pre-roll, and before the start: a page's
 * load events come within tens of ms of each other; the testbed's runner leaves about 3 s
 * between the end of one run and the next page's first request.
 */
export const PREROLL_GAP_S = 2;

const LOAD_FRAGMENT_EVENTS = new Set([
  'fragment_loading_started',
  'fragment_loading_completed',
  'fragment_loading_abandoned',
]);

/** The role of one event (event type and payload only). */
export function runRoleOf(e: { event_type: string; payload?: unknown }): RunRole {
  if (e.event_type === RUN_START_EVENT) return RunRole.start;
  const p = e.payload !== null && typeof e.payload === 'object' ? (e.payload as Record<string, unknown>) : {};
  if (LOAD_FRAGMENT_EVENTS.has(e.event_type)) return RunRole.load;
  if (e.event_type === 'buffer_level_updated' && typeof p.buffer_level === 'number' && p.buffer_level <= 0)
    return RunRole.load;
  return RunRole.other;
}

/** The role of a timestamp group that holds events of roles a and b. */
export function combineRoles(a: RunRole, b: RunRole): RunRole {
  if (a === RunRole.start || b === RunRole.start) return RunRole.start;
  if (a === RunRole.other || b === RunRole.other) return RunRole.other;
  return RunRole.load;
}

/** A base's events at one timestamp, as the split sees them. */
export interface RunGroup {
  t: number;
  role: RunRole;
}

/** A base's event as the split sees it. */
export interface RunPoint {
  t: number;
  role: RunRole;
}

/**
 * Whole groups from points read in timestamp order (either direction) with a row limit: the
 * first `want` groups, and the timestamp of the group after them (`edge`, null when the read
 * reached the base's end). A read cut by its limit may end inside a group, which is then left
 * out; null when the limit cut off some of the wanted groups (read again with a larger one).
 */
export function cutGroups(
  points: readonly RunPoint[],
  limit: number,
  want: number,
): { groups: RunGroup[]; edge: number | null } | null {
  const out: RunGroup[] = [];
  for (const p of points) {
    const last = out.at(-1);
    if (last && last.t === p.t) last.role = combineRoles(last.role, p.role);
    else out.push({ t: p.t, role: p.role });
  }
  if (points.length < limit) return { groups: out, edge: null };
  const partial = out.pop() as RunGroup;
  if (out.length < want) return null;
  return { groups: out.slice(0, want), edge: (out[want] ?? partial).t };
}

/** Groups (ascending, one per timestamp) of some points. */
export function groupsOf(points: readonly RunPoint[]): RunGroup[] {
  const byT = new Map<number, RunRole>();
  for (const p of points) {
    const r = byT.get(p.t);
    byT.set(p.t, r === undefined ? p.role : combineRoles(r, p.role));
  }
  return [...byT.entries()].sort((a, b) => a[0] - b[0]).map(([t, role]) => ({ t, role }));
}

/**
 * Run starts (ascending) of consecutive groups of a base. `prevT` is the timestamp of the group
 * just before them (null: they begin at the base's first event). Starts near the front of a
 * window that does not begin at the base's first event may lack context (a pre-roll reaching
 * before the window); changedStarts only uses differences, which never lie there.
 */
export function startsOf(groups: readonly RunGroup[], gapS: number, prevT: number | null = null): number[] {
  const starts: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as RunGroup;
    const prev = i === 0 ? prevT : (groups[i - 1] as RunGroup).t;
    if (prev === null || (gapS > 0 && g.t - prev > gapS)) {
      starts.push(g.t);
      continue;
    }
    if (g.role !== RunRole.start) continue;
    const lastStart = starts.at(-1);
    let c = g.t;
    let next = g.t;
    for (let j = i - 1, n = 0; j >= 0 && n < PREROLL_MAX_GROUPS; j--, n++) {
      const h = groups[j] as RunGroup;
      if (h.role !== RunRole.load || next - h.t > PREROLL_GAP_S) break;
      c = h.t;
      next = h.t;
      if (c === lastStart) break;
    }
    // The load groups reached back to the previous start: that run is this load, one run.
    if (lastStart !== undefined && c <= lastStart) continue;
    starts.push(c);
  }
  return starts;
}

/** Run starts of all of a base's points. */
export function startsOfPoints(points: readonly RunPoint[], gapS: number): number[] {
  return startsOf(groupsOf(points), gapS, null);
}

/** Groups before and after a new event that changedStarts needs (see `windowAround`). */
export const WINDOW_BEFORE = 2 * PREROLL_MAX_GROUPS + 3;
export const WINDOW_AFTER = PREROLL_MAX_GROUPS + 2;

/**
 * Consecutive stored groups of a base with the timestamp of the group before them (null: the
 * first is the base's first). `toEnd`: no stored group of the base lies after the last one.
 */
export interface RunWindow {
  prevT: number | null;
  groups: RunGroup[];
  toEnd: boolean;
}

/** Index of the first group with timestamp >= t. */
function lowerBound(groups: readonly RunGroup[], t: number): number {
  let lo = 0;
  let hi = groups.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((groups[mid] as RunGroup).t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether the window holds every stored group changedStarts reads for an event at t: at least
 * WINDOW_BEFORE groups before t (or all of them) and WINDOW_AFTER after it (or all of them).
 */
export function windowCovers(w: RunWindow, t: number): boolean {
  const i = lowerBound(w.groups, t);
  const j = i < w.groups.length && (w.groups[i] as RunGroup).t === t ? i + 1 : i;
  return (w.prevT === null || i >= WINDOW_BEFORE) && (w.toEnd || w.groups.length - j >= WINDOW_AFTER);
}

/**
 * Adds one event at t (role `role`) to a window that covers t (windowCovers), and returns the
 * run starts that stop and begin being starts. Only starts within a bounded distance of t can
 * change (its own group, the pre-roll of the next run start, the silence it breaks), so the
 * split is computed before and after over a slice around t with the same context, and the
 * slice's leading groups, whose context may be cut, are the same in both.
 */
export function changedStarts(
  w: RunWindow,
  t: number,
  role: RunRole,
  gapS: number,
): { removed: number[]; added: number[] } {
  const last = w.groups.at(-1);
  if (w.toEnd && role !== RunRole.start && (last === undefined || t > last.t)) {
    // The usual case, the newest event of its base and no run start: only the silence before
    // it can make it a start (no stored group after it can change).
    w.groups.push({ t, role });
    const prev = last?.t ?? w.prevT;
    return { removed: [], added: prev === null || (gapS > 0 && t - prev > gapS) ? [t] : [] };
  }
  const i = lowerBound(w.groups, t);
  const existing = i < w.groups.length && (w.groups[i] as RunGroup).t === t;
  const lo = Math.max(0, i - WINDOW_BEFORE);
  const hi = Math.min(w.groups.length, i + WINDOW_AFTER + 1);
  const prevT = lo === 0 ? w.prevT : (w.groups[lo - 1] as RunGroup).t;
  const before = startsOf(w.groups.slice(lo, hi), gapS, prevT);
  if (existing) {
    const g = w.groups[i] as RunGroup;
    const r = combineRoles(g.role, role);
    if (r === g.role) return { removed: [], added: [] };
    w.groups[i] = { t, role: r };
  } else w.groups.splice(i, 0, { t, role });
  const after = startsOf(w.groups.slice(lo, existing ? hi : hi + 1), gapS, prevT);
  const a = new Set(after);
  const b = new Set(before);
  return { removed: before.filter((s) => !a.has(s)), added: after.filter((s) => !b.has(s)) };
}

/** `starts` with some removed and others added, ascending. */
export function applyChange(starts: readonly number[], c: { removed: number[]; added: number[] }): number[] {
  if (c.removed.length === 0 && c.added.length === 0) return starts as number[];
  const out = starts.filter((s) => !c.removed.includes(s));
  for (const s of c.added) if (!out.includes(s)) out.push(s);
  return out.sort((x, y) => x - y);
}

/** Index (0-based) of the run holding timestamp t: the last start at or before t. */
export function runIndexAt(starts: readonly number[], t: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((starts[mid] as number) <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The session id of the event at t of a base with these run starts. */
export function keyAt(base: string, starts: readonly number[], t: number): string {
  return runKey(base, runIndexAt(starts, t) + 1);
}

/** A time range of a base whose stored events must take another session id. */
export interface Rekey {
  from: number;
  /** Exclusive; null: to the end. */
  to: number | null;
  key: string;
}

/** One run of a base: its id and time range [from, to) (to null: the last run). */
export interface RunSpan {
  key: string;
  runNo: number;
  from: number;
  to: number | null;
}

/** The runs of a base with these starts. */
export function runSpans(base: string, starts: readonly number[]): RunSpan[] {
  return starts.map((from, i) => ({
    key: runKey(base, i + 1),
    runNo: i + 1,
    from,
    to: starts[i + 1] ?? null,
  }));
}

/**
 * What changes for a base's stored events (all at or before `storedLast`) when its run starts
 * go from `before` to `after`: the ranges whose session id changes, the runs whose stored
 * events are the same but whose number (and so id) changes (`renamed`: their summaries move as
 * they are), the ids whose stored events changed (`recompute`: summaries made again from their
 * events, after the new events are stored) and ids left without events (`gone`). A run that
 * starts after `storedLast` holds only new events: they make its summary.
 */
export function rekeys(
  base: string,
  before: readonly number[],
  after: readonly number[],
  storedLast: number,
): { ranges: Rekey[]; renamed: Array<{ from: string; to: string }>; recompute: string[]; gone: string[] } {
  const same = before.length === after.length && before.every((s, i) => s === after[i]);
  if (same || before.length === 0) return { ranges: [], renamed: [], recompute: [], gone: [] };
  const points = [...new Set([...before, ...after])].sort((a, b) => a - b);
  const ranges: Rekey[] = [];
  for (let i = 0; i < points.length; i++) {
    const from = points[i] as number;
    if (from < (before[0] as number) || from > storedLast) continue; // no stored events there
    const oldKey = keyAt(base, before, from);
    const newKey = keyAt(base, after, from);
    if (oldKey === newKey) continue;
    const to = points[i + 1] ?? null;
    const prev = ranges.at(-1);
    if (prev && prev.to === from && prev.key === newKey) prev.to = to;
    else ranges.push({ from, to, key: newKey });
  }
  // A span as far as stored events go: its end past the newest stored event is no change.
  const spanKey = (s: RunSpan) => `${s.from}\u0000${s.to === null || s.to > storedLast ? 'end' : s.to}`;
  const oldSpans = runSpans(base, before);
  const newSpans = runSpans(base, after).filter((s) => s.from <= storedLast);
  const oldBySpan = new Map(oldSpans.map((s) => [spanKey(s), s]));
  const renamed: Array<{ from: string; to: string }> = [];
  const recompute: string[] = [];
  for (const s of newSpans) {
    const o = oldBySpan.get(spanKey(s));
    if (o) {
      if (o.key !== s.key) renamed.push({ from: o.key, to: s.key });
    } else recompute.push(s.key);
  }
  // Every stored summary that does not stay as it is under its own id goes (renamed and
  // recomputed runs are written anew).
  const stays = new Set(newSpans.filter((s) => oldBySpan.get(spanKey(s))?.key === s.key).map((s) => s.key));
  const gone = oldSpans.filter((s) => !stays.has(s.key)).map((s) => s.key);
  return { ranges, renamed, recompute, gone };
}
