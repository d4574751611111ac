/**
 * The rendered video bitrate over time, and the switches between renditions. Switch events
 * (quality_change_rendered, CMCD bc) are the authority when a session has any; periodic
 * samples only fill in what was shown before the first of them. Sessions without switch
 * events use the samples alone, and sessions with neither (the testbed page under dash.js 4)
 * the renditions of the video segments they downloaded.
 */
import { Instants } from './instants.ts';
import type { Signal, Switch } from './types.ts';

type RenditionSignal = Extract<Signal, { kind: 'rendition' }>;
type DownloadSignal = Extract<Signal, { kind: 'downloaded' }>;
/** What Steps reads of a rendition or download signal. */
type Seen = Pick<RenditionSignal, 't' | 'bps' | 'quality' | 'fromBps' | 'fromQuality'> & {
  rep?: string | null;
};

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
  /** A name of the rendition from a segment URL (downloads only). */
  rep?: string | null;
}

function differs(a: Shown, b: Shown): boolean | null {
  if (a.quality !== null && b.quality !== null) return a.quality !== b.quality;
  if (a.bps !== null && b.bps !== null) return a.bps !== b.bps;
  if (a.rep != null && b.rep != null) return a.rep !== b.rep;
  return null;
}

/** Builds the bitrate steps and changes from time-sorted signals (only renditions are read). */
export function renditionHistory(signals: readonly Signal[], sessionStart: number): RenditionHistory {
  const tracker = new RenditionTracker(sessionStart);
  const instants = new Instants((group) => tracker.instant(group));
  for (const s of signals) if (s.kind === 'rendition' || s.kind === 'downloaded') instants.push(s);
  instants.flush();
  return tracker.result();
}

/**
 * The rendition history as a fold over the instants of a session (its rendition signals at
 * one timestamp at a time, in time order). Whether the session has switch events is only known
 * at its end, so both readings are followed until the first switch event: from then on only
 * the switch events count, and the samples' reading is dropped.
 */
export class RenditionTracker {
  readonly #start: number;
  /** Reading by switch events: null until the first one. */
  #explicit: Steps | null = null;
  /** Reading by samples: null once a switch event was seen. */
  #samples: Steps | null = new Steps();
  /** The last sample with a bitrate before (or at the instant of) the first switch event. */
  #lastSample: RenditionSignal | null = null;
  /** Reading by downloaded segments: null once any rendition signal was seen. */
  #downloads: Steps | null = new Steps();

  constructor(sessionStart: number) {
    this.#start = sessionStart;
  }

  /** The signals of one instant, in their order (only renditions are read). */
  instant(signals: readonly Signal[]): void {
    if (this.#downloads !== null) {
      for (const s of signals) if (s.kind === 'downloaded') this.#downloads.feed(fromDownload(s));
    }
    // Most instants carry no rendition: nothing to allocate for them.
    if (!signals.some((s) => s.kind === 'rendition')) return;
    this.#downloads = null;
    const group = signals.filter((s): s is RenditionSignal => s.kind === 'rendition');
    if (this.#explicit === null) {
      for (const s of group) if (!s.explicit && s.bps !== null) this.#lastSample = s;
      const first = group.find((s) => s.explicit);
      if (first === undefined) {
        for (const s of group) if (s.bps !== null) this.#samples!.feed(s);
        return;
      }
      this.#samples = null;
      this.#explicit = new Steps();
      let cur: Shown | null = null;
      if (first.fromBps !== null || first.fromQuality !== null) {
        cur = { bps: first.fromBps, quality: first.fromQuality };
      } else if (this.#lastSample) {
        // What a sample said was shown before the first switch event.
        cur = { bps: this.#lastSample.bps, quality: this.#lastSample.quality };
      }
      if (cur) this.#explicit.begin(this.#start, cur);
      this.#lastSample = null;
    }
    for (const s of group) if (s.explicit) this.#explicit.feed(s);
  }

  result(): RenditionHistory {
    const steps = this.#downloads ?? this.#explicit ?? this.#samples!;
    return { steps: steps.steps, changes: steps.changes };
  }
}

/** Steps and changes from a sequence of rendition signals, each compared with the one shown. */
class Steps {
  readonly steps: Step[] = [];
  readonly changes: Switch[] = [];
  #cur: Shown | null = null;

  begin(t: number, shown: Shown): void {
    this.#cur = shown;
    this.steps.push({ t, bps: shown.bps });
  }

  feed(s: Seen): void {
    const cur = this.#cur;
    const next: Shown = { bps: s.bps, quality: s.quality, rep: s.rep ?? null };
    // The event's own "from" says what was shown just before, if it names it.
    const prev: Shown | null =
      s.fromBps !== null || s.fromQuality !== null
        ? { bps: s.fromBps ?? cur?.bps ?? null, quality: s.fromQuality ?? cur?.quality ?? null }
        : cur;
    const changed = prev ? differs(prev, next) : null;
    if (changed === false) {
      // Same rendition; an event may still teach us its bitrate.
      if (cur && cur.bps === null && next.bps !== null) {
        this.#cur = { ...cur, bps: next.bps };
        this.steps.push({ t: s.t, bps: next.bps });
      }
      return;
    }
    if (changed === true)
      this.changes.push({ timestamp: s.t, from_bps: prev?.bps ?? null, to_bps: next.bps });
    this.#cur = next;
    this.steps.push({ t: s.t, bps: next.bps });
  }
}

/** A downloaded segment as a sample of the rendition (it names no "from"). */
function fromDownload(s: DownloadSignal): Seen {
  return { t: s.t, bps: s.bps, quality: s.quality, fromBps: null, fromQuality: null, rep: s.rep };
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
