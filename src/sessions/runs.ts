/**
 * Splitting a fallback session key (src/sessions/key.ts) into runs. A run starts at the first
 * event of the base, at every `stream_initialized`, and at the first event after a silence
 * longer than the split gap. Runs are numbered in time order.
 *
 * The split is a function of the set of stored events, never of the order they arrived in:
 * `startsOf` computes it from all of a base's events, and `nextStarts` updates it for one new
 * event from a few facts about its neighbours, which is what ingest uses. The two agree for
 * every insertion order (test/unit/sessions.runs.test.ts checks it on random sequences).
 */
import { runKey } from './key.ts';

/** A base's event as the split sees it. */
export interface RunPoint {
  t: number;
  /** It is a run-start event (stream_initialized). */
  start: boolean;
}

/** Run starts (ascending timestamps) of a base, from all its events. */
export function startsOf(points: readonly RunPoint[], gapS: number): number[] {
  const sorted = [...points].sort((a, b) => a.t - b.t || Number(b.start) - Number(a.start));
  const starts: number[] = [];
  let prevT: number | null = null;
  for (const p of sorted) {
    const last = starts.at(-1);
    const gap = prevT !== null && p.t > prevT && gapS > 0 && p.t - prevT > gapS;
    if (last !== p.t && (prevT === null || p.start || gap)) starts.push(p.t);
    prevT = p.t;
  }
  return starts;
}

/** What ingest must know about a base before it stores one new event at `t`. */
export interface NeighbourFacts {
  /** Current run starts, ascending. */
  starts: readonly number[];
  /** Latest stored timestamp of the base below t (null: none). */
  pred: number | null;
  /** Earliest stored timestamp of the base above t (null: none). */
  succ: number | null;
  /** Some stored event of the base has exactly t. */
  sameT: boolean;
  /** A stored run-start event of the base has exactly `succ`. */
  startEventAtSucc: boolean;
}

/**
 * Run starts after storing one event at `t`. Only two starts can change: t itself may become
 * one, and the next stored timestamp may stop being one (its silence is now broken by t).
 */
export function nextStarts(f: NeighbourFacts, t: number, isStart: boolean, gapS: number): number[] {
  const starts = [...f.starts];
  const gapBefore = f.pred === null || (gapS > 0 && t - f.pred > gapS);
  if (!starts.includes(t) && (isStart || gapBefore)) {
    starts.push(t);
    starts.sort((a, b) => a - b);
  }
  if (f.succ !== null && !f.sameT && !f.startEventAtSucc && !(gapS > 0 && f.succ - t > gapS)) {
    const i = starts.indexOf(f.succ);
    if (i >= 0) starts.splice(i, 1);
  }
  return starts;
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

/**
 * The ranges whose session id changes when a base's run starts go from `before` to `after`
 * (both non-empty unless the base had no events), and the ids that stop or start existing.
 */
export function rekeys(
  base: string,
  before: readonly number[],
  after: readonly number[],
): { ranges: Rekey[]; touched: string[] } {
  const same = before.length === after.length && before.every((s, i) => s === after[i]);
  if (same || before.length === 0) return { ranges: [], touched: [] };
  const points = [...new Set([...before, ...after])].sort((a, b) => a - b);
  const ranges: Rekey[] = [];
  const touched = new Set<string>();
  for (let i = 0; i < points.length; i++) {
    const from = points[i] as number;
    if (from < (before[0] as number)) continue; // no stored events there yet
    const oldKey = keyAt(base, before, from);
    const newKey = keyAt(base, after, from);
    if (oldKey === newKey) continue;
    touched.add(oldKey);
    touched.add(newKey);
    const to = points[i + 1] ?? null;
    const prev = ranges.at(-1);
    if (prev && prev.to === from && prev.key === newKey) prev.to = to;
    else ranges.push({ from, to, key: newKey });
  }
  return { ranges, touched: [...touched] };
}
