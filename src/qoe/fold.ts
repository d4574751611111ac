/**
 * The per-session QoE figures as a fold over a session's instants (its signals at one
 * timestamp at a time, in time order): memory grows with stalls, switches and latency
 * samples, not with events, so a store can stream a session of any length through it.
 * SessionAccumulator feeds it from memory; src/sessions/ feeds it from a store.
 */
import {
  factsAgree,
  type Interval,
  type SignalFacts,
  type TimelineBuilder,
  timelineBuilder,
} from './playback.ts';
import { RenditionTracker, timeWeightedBitrate } from './rendition.ts';
import { mean, quantile } from './stats.ts';
import type { QoeOptions, SessionQoe, Signal, Stall } from './types.ts';
import { trimPoint } from './warmup.ts';
import { whyNull } from './why-null.ts';

/** A player-reported startup below this share of (first frame − play request) is not believed. */
export const MIN_REPORTED_STARTUP_SHARE = 0.5;

/** What a session is besides its signals: its name, video, protocol and time span. */
export interface SessionMetaFields {
  sessionId: string;
  videoId: string | null;
  protocol: string | null;
  /** First and last event timestamps (±Infinity when there were none). */
  first: number;
  last: number;
}

/** The span QoE reads: [first, last] of the events, [0, 0] for a session without any. */
export function spanOf(first: number, last: number): { start: number; end: number } {
  const start = Number.isFinite(first) ? first : 0;
  return { start, end: Number.isFinite(last) ? last : start };
}

export class QoeFold {
  readonly #timeline: TimelineBuilder;
  readonly #renditions: RenditionTracker;
  readonly #facts: SignalFacts;
  readonly #from: number;
  readonly #start: number;
  #droppedPrev = 0;
  #droppedTotal = 0;
  #droppedSeen = false;
  #baseCount = 0;
  #baseTime = 0;
  #lastCount: number | null = null;
  #lastTime: number | null = null;
  readonly #latencies: number[] = [];

  /**
   * `facts`: the look-ahead answers (exact, or a guess checked by agreesWith() at the end);
   * `span`: the session's first and last event timestamps (spanOf), which place the warm-up.
   */
  constructor(facts: SignalFacts, span: { start: number; end: number }, opts: QoeOptions = {}) {
    this.#facts = facts;
    this.#timeline = timelineBuilder(facts);
    this.#start = span.start;
    this.#renditions = new RenditionTracker(span.start);
    this.#from = trimPoint(opts.warmup, span.start, span.end);
  }

  /** The signals of one instant, without copies (instants.ts), in time order across calls. */
  instant(group: readonly Signal[]): void {
    const from = this.#from;
    const latencies: number[] = [];
    for (const s of group) {
      this.#timeline.push(s);
      switch (s.kind) {
        case 'latency':
          if (s.t >= from) latencies.push(s.s);
          break;
        case 'dropped':
          // The sum of the counter's increases in the window; a counter that went down was
          // reset (new media element): count from zero again.
          this.#droppedSeen = true;
          if (s.t >= from)
            this.#droppedTotal += s.frames >= this.#droppedPrev ? s.frames - this.#droppedPrev : s.frames;
          this.#droppedPrev = s.frames;
          break;
        case 'stall_totals':
          // Cumulative counters: the last value in the window minus the last before it.
          if (s.t < from) {
            if (s.count !== null) this.#baseCount = s.count;
            if (s.timeS !== null) this.#baseTime = s.timeS;
          } else {
            if (s.count !== null) this.#lastCount = s.count;
            if (s.timeS !== null) this.#lastTime = s.timeS;
          }
          break;
        default:
          break;
      }
    }
    this.#renditions.instant(group);
    // Latency counts from the first frame on: an instant before it can never have it later.
    if (latencies.length > 0 && this.#timeline.firstFrame !== null)
      for (const v of latencies) this.#latencies.push(v);
  }

  /** Whether the look-ahead facts this fold was given agree with the real ones. */
  agreesWith(real: SignalFacts): boolean {
    return factsAgree({ ...this.#facts, consultedHasPlaying: this.#timeline.consultedHasPlaying }, real);
  }

  /** The figures, once every instant is in. */
  result(meta: SessionMetaFields): SessionQoe {
    const { end } = spanOf(meta.first, meta.last);
    const from = this.#from;
    const tl = this.#timeline.end(end);
    const started = tl.firstFrame !== null;

    let startup: number | null = null;
    if (started && !tl.firstFrameInferred) {
      // Without a play request the load began with the session (its run): dash.js 4 loads init
      // segments ~0.1 s before stream_initialized. That first event is an origin only when it
      // came before the first frame: a session that begins with its first frame says nothing of
      // how long it loaded (null, not 0).
      const ff = tl.firstFrame!;
      const origin =
        tl.playRequest !== null && tl.playRequest <= ff
          ? tl.playRequest
          : this.#start < ff
            ? this.#start
            : undefined;
      startup = believedReport(tl) ?? (origin === undefined ? null : tl.firstFrame! - origin);
    }

    const played = tl.played
      .map((iv) => clip(iv, from))
      .filter((iv): iv is Interval => iv !== null && iv.end > iv.start);
    const stallIvs = tl.stalls.map((iv) => clip(iv, from)).filter((iv): iv is Interval => iv !== null);
    const stalls: Stall[] = stallIvs.map((iv) => ({
      start: iv.start,
      end: iv.end,
      duration_s: round(iv.end - iv.start)!,
    }));
    let stallCount: number | null = started ? stalls.length : null;
    let stallTime: number | null = started ? sum(stallIvs) : null;
    let playedTime = sum(played);
    if (started && tl.stalls.length === 0) {
      // Stalls from cumulative CMCD counters, for sessions that report no stall intervals.
      if (this.#lastCount !== null) stallCount = Math.max(0, this.#lastCount - this.#baseCount);
      if (this.#lastTime !== null) {
        stallTime = Math.max(0, this.#lastTime - this.#baseTime);
        // Those stalls have no place on the timeline, so it counted them as played.
        playedTime = Math.max(0, playedTime - stallTime);
      }
    }
    const ratio =
      stallTime !== null && stallTime + playedTime > 0 ? stallTime / (stallTime + playedTime) : null;

    const history = this.#renditions.result();
    const switches = started
      ? history.changes.filter((c) => c.timestamp >= from && c.timestamp >= tl.firstFrame!)
      : [];
    const latencies = started ? this.#latencies : [];

    const q: SessionQoe = {
      session_id: meta.sessionId,
      video_id: meta.videoId,
      protocol: meta.protocol,
      startup_time_s: round(startup),
      stall_count: stallCount,
      stall_time_s: round(stallTime),
      rebuffering_ratio: round(ratio),
      avg_bitrate_bps: round(timeWeightedBitrate(history.steps, played), 3),
      switch_count: started ? switches.length : null,
      latency_avg_s: round(mean(latencies)),
      latency_p95_s: round(quantile(latencies, 0.95)),
      dropped_frames: this.#droppedSeen ? this.#droppedTotal : null,
      played_time_s: round(playedTime),
      fatal_error: tl.fatalError,
      exit_before_start: !started && !tl.fatalError && tl.hasLifecycle,
      stalls,
      switches,
    };
    const why = whyNull(q, {
      started,
      firstFrameInferred: tl.firstFrameInferred,
      renditionsWithoutBitrate: history.steps.length > 0 && history.steps.every((s) => s.bps === null),
    });
    if (why) q.why_null = why;
    return q;
  }
}

function clip(iv: Interval, from: number): Interval | null {
  if (iv.end < from) return null;
  // A zero-length stall counts when it happened inside the window.
  if (iv.end === from && iv.start < from) return null;
  return { start: Math.max(iv.start, from), end: iv.end };
}

const sum = (ivs: readonly Interval[]) => ivs.reduce((acc, iv) => acc + (iv.end - iv.start), 0);

function round(v: number | null, digits = 6): number | null {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * The player-reported startup, unless the session's own timestamps contradict it: with a play
 * request and a first-frame signal (both stamped by the player's clock), a figure under half
 * of their distance is not that startup (dash.js sends an msd of 1-2 ms taken right after
 * the play request). Larger figures are believed: players may measure from an earlier origin.
 */
function believedReport(tl: ReturnType<TimelineBuilder['end']>): number | null {
  const reported = tl.startupReportedS;
  if (reported === null || tl.firstFrameFromReport) return reported;
  if (tl.playRequest === null || tl.firstFrame === null || tl.playRequest > tl.firstFrame) return reported;
  const measured = tl.firstFrame - tl.playRequest;
  return reported < MIN_REPORTED_STARTUP_SHARE * measured ? null : reported;
}
