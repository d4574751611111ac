/**
 * The rendered video bitrate over time, and the switches between renditions. Switch events
 * (quality_change_rendered, CMCD bc) are the authority when a session has any; periodic
 * samples only fill in what was shown before the first of them. Sessions without switch
 * events use the samples alone.
 */
import type { Signal, Switch } from './types.ts';

type RenditionSignal = Extract<Signal, { kind: 'rendition' }>;

/** From `t` on, this bitrate was shown (null: unknown). */
export interface Step {
  t: number;
  bps: number | null;
}

export interface RenditionHistory {
  steps: Step[];
  /** Every change of rendered rendition after the first known one (not yet windowed). */
  changes: Switch[];
}

interface Shown {
  bps: number | null;
  quality: number | null;
}

function differs(a: Shown, b: Shown): boolean | null {
  if (a.quality !== null && b.quality !== null) return a.quality !== b.quality;
  if (a.bps !== null && b.bps !== null) return a.bps !== b.bps;
  return null;
}

/** Builds the bitrate steps and changes from time-sorted rendition signals. */
export function renditionHistory(signals: readonly Signal[], sessionStart: number): RenditionHistory {
  const all = signals.filter((s): s is RenditionSignal => s.kind === 'rendition');
  const explicit = all.filter((s) => s.explicit);
  const steps: Step[] = [];
  const changes: Switch[] = [];
  let cur: Shown | null = null;

  let source: RenditionSignal[];
  if (explicit.length > 0) {
    const first = explicit[0]!;
    if (first.fromBps !== null || first.fromQuality !== null) {
      cur = { bps: first.fromBps, quality: first.fromQuality };
    } else {
      // What a sample said was shown before the first switch event.
      const before = all.filter((s) => !s.explicit && s.t <= first.t && s.bps !== null).at(-1);
      if (before) cur = { bps: before.bps, quality: before.quality };
    }
    if (cur) steps.push({ t: sessionStart, bps: cur.bps });
    source = explicit;
  } else {
    source = all.filter((s) => s.bps !== null);
  }

  for (const s of source) {
    const next: Shown = { bps: s.bps, quality: s.quality };
    // The event's own "from" says what was shown just before, if it names it.
    const prev: Shown | null =
      s.fromBps !== null || s.fromQuality !== null
        ? { bps: s.fromBps ?? cur?.bps ?? null, quality: s.fromQuality ?? cur?.quality ?? null }
        : cur;
    const changed = prev ? differs(prev, next) : null;
    if (changed === false) {
      // Same rendition; an event may still teach us its bitrate.
      if (cur && cur.bps === null && next.bps !== null) {
        cur = { ...cur, bps: next.bps };
        steps.push({ t: s.t, bps: next.bps });
      }
      continue;
    }
    if (changed === true) changes.push({ timestamp: s.t, from_bps: prev?.bps ?? null, to_bps: next.bps });
    cur = next;
    steps.push({ t: s.t, bps: next.bps });
  }
  return { steps, changes };
}

/**
 * Time-weighted mean bitrate over the given intervals (sorted, non-overlapping), counting only
 * time with a known bitrate. One merge pass over intervals and steps.
 */
export function timeWeightedBitrate(
  steps: readonly Step[],
  intervals: ReadonlyArray<{ start: number; end: number }>,
): number | null {
  let weighted = 0;
  let known = 0;
  let j = 0;
  for (const iv of intervals) {
    // The step in force at iv.start is the last one starting at or before it.
    while (j + 1 < steps.length && steps[j + 1]!.t <= iv.start) j++;
    for (let k = j; k < steps.length && steps[k]!.t < iv.end; k++) {
      const step = steps[k]!;
      const from = Math.max(iv.start, step.t);
      const to = Math.min(iv.end, steps[k + 1]?.t ?? Number.POSITIVE_INFINITY);
      if (step.bps !== null && to > from) {
        weighted += step.bps * (to - from);
        known += to - from;
      }
    }
  }
  return known > 0 ? weighted / known : null;
}
