/**
 * Per-session QoE: collects a session's events as signals (in any order, duplicates allowed),
 * then computes the SessionQoe figures over the session minus its warm-up.
 */

import { CMCD_PROTOCOL, isKnownVideo } from '../sessions/summary.ts';
import { toSignals } from './dialects/index.ts';
import { buildTimeline, type Interval, type PlaybackTimeline } from './playback.ts';
import { renditionHistory, timeWeightedBitrate } from './rendition.ts';
import { mean, quantile } from './stats.ts';
import type { QoeEvent, QoeOptions, SessionQoe, Signal, Stall } from './types.ts';
import { trimPoint } from './warmup.ts';

/** A player-reported startup below this share of (first frame − play request) is not believed. */
export const MIN_REPORTED_STARTUP_SHARE = 0.5;

/**
 * One session's events reduced to what QoE needs: add events one by one (memory grows with
 * the signals, not the payloads), then `result()`.
 */
export class SessionAccumulator {
  readonly sessionId: string;
  videoId: string | null = null;
  protocol: string | null = null;
  /** Timestamp of the event that gave a known `videoId` (see `noteVideo`). */
  private videoAt: number | null = null;
  /** Timestamp of the event that gave `protocol` (see `noteProtocol`). */
  private protocolAt = Number.POSITIVE_INFINITY;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  private readonly items: Signal[] = [];
  private readonly eventIds = new Set<string>();
  private readonly fromStore: boolean;
  /** The last rendition sample and dropped-frames counter kept (fromStore only). */
  private lastSample: Extract<Signal, { kind: 'rendition' }> | null = null;
  private lastDropped: number | null = null;

  /**
   * `fromStore`: the events come from a store, in (timestamp, id) order with unique event ids,
   * and only the QoE figures will be asked for (not time series). The accumulator then keeps no
   * event ids and only the signals the figures read, so a session of a million events fits in
   * tens of megabytes: no periodic buffer copies or throughput (plot-only), and no repeats of an
   * unchanged rendition sample or dropped-frames counter (they change no figure).
   */
  constructor(sessionId: string, opts: { fromStore?: boolean } = {}) {
    this.sessionId = sessionId;
    this.fromStore = opts.fromStore ?? false;
  }

  add(event: QoeEvent): void {
    const t = event.timestamp;
    if (typeof t !== 'number' || !Number.isFinite(t)) return;
    if (!this.fromStore && typeof event.event_id === 'string') {
      if (this.eventIds.has(event.event_id)) return;
      this.eventIds.add(event.event_id);
    }
    this.noteVideo(event.video_id, t);
    this.noteProtocol(event.protocol, t);
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    for (const sig of toSignals(event)) if (!this.fromStore || this.keeps(sig)) this.items.push(sig);
  }

  /**
   * Live latency samples kept apart from the signals (fromStore): only their values matter
   * to the figures, and as two number arrays they take a fraction of the memory of objects.
   */
  private readonly latencyT: number[] = [];
  private readonly latencyS: number[] = [];
  private latencyAt: Set<number> | null = null;

  /** The latency samples at or after `from` (and the first frame), kept apart (fromStore). */
  latenciesFrom(from: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.latencyT.length; i++) if (this.latencyT[i]! >= from) out.push(this.latencyS[i]!);
    return out;
  }

  /** Whether a signal can change a QoE figure, given the ones kept before it (fromStore). */
  private keeps(sig: Signal): boolean {
    switch (sig.kind) {
      case 'throughput':
        return false;
      case 'latency': {
        // An exact copy at one instant (a resent event) counts once, as in signals().
        const n = this.latencyT.length;
        if (n === 0 || this.latencyT[n - 1] !== sig.t) this.latencyAt = new Set();
        if (this.latencyAt?.has(sig.s)) return false;
        this.latencyAt?.add(sig.s);
        this.latencyT.push(sig.t);
        this.latencyS.push(sig.s);
        return false;
      }
      case 'buffer':
        return sig.forStalls;
      case 'dropped':
        if (sig.frames === this.lastDropped) return false;
        this.lastDropped = sig.frames;
        return true;
      case 'rendition': {
        if (sig.explicit) return true;
        const p = this.lastSample;
        if (
          p &&
          p.bps === sig.bps &&
          p.quality === sig.quality &&
          p.fromBps === sig.fromBps &&
          p.fromQuality === sig.fromQuality
        ) {
          return false;
        }
        this.lastSample = sig;
        return true;
      }
      default:
        return true;
    }
  }

  /** The session's video: the earliest video_id other than "unknown", else "unknown". */
  private noteVideo(video: unknown, t: number): void {
    if (typeof video !== 'string') return;
    if (isKnownVideo(video)) {
      if (this.videoAt === null || t < this.videoAt) {
        this.videoId = video;
        this.videoAt = t;
      }
    } else if (this.videoId === null) this.videoId = video;
  }

  /**
   * The session's protocol: the earliest one that is not `cmcd`, else the first one. CMCD
   * reports sent before the player knows the streaming format (`sf`) say `cmcd`.
   */
  private noteProtocol(protocol: unknown, t: number): void {
    if (typeof protocol !== 'string') return;
    if (this.protocol === null) {
      this.protocol = protocol;
      this.protocolAt = protocol === CMCD_PROTOCOL ? Number.POSITIVE_INFINITY : t;
    } else if (protocol !== CMCD_PROTOCOL && t < this.protocolAt) {
      this.protocol = protocol;
      this.protocolAt = t;
    }
  }

  /** Signals sorted by time (stable: arrival order breaks ties), exact duplicates dropped. */
  signals(): Signal[] {
    // Array.prototype.sort is stable, so equal timestamps keep their arrival order. Sorted in
    // place (a second sort changes nothing), and only when needed: store reads arrive sorted.
    const sorted = this.items;
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.t < sorted[i - 1]!.t) {
        sorted.sort((a, b) => a.t - b.t);
        break;
      }
    }
    const out: Signal[] = [];
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j]!.t === sorted[i]!.t) j++;
      if (j === i + 1 || distinctKinds(sorted, i, j)) {
        // One signal, or one of each kind (an event's own signals): nothing can be a copy.
        for (let k = i; k < j; k++) out.push(sorted[k]!);
      } else {
        // Several signals at one instant: drop exact copies (resent events without event_id).
        const seen = new Set<string>();
        for (let k = i; k < j; k++) {
          const key = JSON.stringify(sorted[k]);
          if (!seen.has(key)) {
            seen.add(key);
            out.push(sorted[k]!);
          }
        }
      }
      i = j;
    }
    return out;
  }

  result(opts: QoeOptions = {}): SessionQoe {
    return computeFromSignals(this, this.signals(), opts);
  }
}

/** True when the signals [i, j) are all of different kinds (so none is a copy of another). */
function distinctKinds(signals: readonly Signal[], i: number, j: number): boolean {
  for (let a = i; a < j; a++) {
    for (let b = a + 1; b < j; b++) if (signals[a]!.kind === signals[b]!.kind) return false;
  }
  return true;
}

function clip(iv: Interval, from: number): Interval | null {
  if (iv.end < from) return null;
  // A zero-length stall counts when it happened inside the window.
  if (iv.end === from && iv.start < from) return null;
  return { start: Math.max(iv.start, from), end: iv.end };
}

const sum = (ivs: readonly Interval[]) => ivs.reduce((acc, iv) => acc + (iv.end - iv.start), 0);

/** Dropped frames in the window from a cumulative counter: the sum of its increases. */
function droppedFrames(signals: readonly Signal[], from: number): number | null {
  let prev = 0;
  let total = 0;
  let seen = false;
  for (const s of signals) {
    if (s.kind !== 'dropped') continue;
    seen = true;
    if (s.t >= from) {
      // A counter that went down was reset (new media element): count from zero again.
      total += s.frames >= prev ? s.frames - prev : s.frames;
    }
    prev = s.frames;
  }
  return seen ? total : null;
}

/** Stalls from cumulative CMCD counters, for sessions that report no stall intervals. */
function stallTotals(
  signals: readonly Signal[],
  from: number,
): { count: number | null; timeS: number | null } {
  let baseCount = 0;
  let baseTime = 0;
  let lastCount: number | null = null;
  let lastTime: number | null = null;
  for (const s of signals) {
    if (s.kind !== 'stall_totals') continue;
    if (s.t < from) {
      if (s.count !== null) baseCount = s.count;
      if (s.timeS !== null) baseTime = s.timeS;
    } else {
      if (s.count !== null) lastCount = s.count;
      if (s.timeS !== null) lastTime = s.timeS;
    }
  }
  return {
    count: lastCount === null ? null : Math.max(0, lastCount - baseCount),
    timeS: lastTime === null ? null : Math.max(0, lastTime - baseTime),
  };
}

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
function believedReport(tl: PlaybackTimeline): number | null {
  const reported = tl.startupReportedS;
  if (reported === null || tl.firstFrameFromReport) return reported;
  if (tl.playRequest === null || tl.firstFrame === null || tl.playRequest > tl.firstFrame) return reported;
  const measured = tl.firstFrame - tl.playRequest;
  return reported < MIN_REPORTED_STARTUP_SHARE * measured ? null : reported;
}

function computeFromSignals(acc: SessionAccumulator, signals: Signal[], opts: QoeOptions): SessionQoe {
  const start = Number.isFinite(acc.first) ? acc.first : 0;
  const end = Number.isFinite(acc.last) ? acc.last : start;
  const tl = buildTimeline(signals, end);
  const from = trimPoint(opts.warmup, start, end);
  const started = tl.firstFrame !== null;

  let startup: number | null = null;
  if (started && !tl.firstFrameInferred) {
    const origin = [tl.playRequest, tl.init, start].find(
      (t): t is number => t !== null && t <= tl.firstFrame!,
    );
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
    const totals = stallTotals(signals, from);
    if (totals.count !== null) stallCount = totals.count;
    if (totals.timeS !== null) {
      stallTime = totals.timeS;
      // Those stalls have no place on the timeline, so it counted them as played.
      playedTime = Math.max(0, playedTime - totals.timeS);
    }
  }
  const ratio =
    stallTime !== null && stallTime + playedTime > 0 ? stallTime / (stallTime + playedTime) : null;

  const history = renditionHistory(signals, start);
  const switches = started
    ? history.changes.filter((c) => c.timestamp >= from && c.timestamp >= tl.firstFrame!)
    : [];

  const latencies: number[] = [];
  if (started) {
    for (const s of signals) {
      if (s.kind === 'latency' && s.t >= from && s.t >= tl.firstFrame!) latencies.push(s.s);
    }
    for (const v of acc.latenciesFrom(Math.max(from, tl.firstFrame!))) latencies.push(v);
  }

  return {
    session_id: acc.sessionId,
    video_id: acc.videoId,
    protocol: acc.protocol,
    startup_time_s: round(startup),
    stall_count: stallCount,
    stall_time_s: round(stallTime),
    rebuffering_ratio: round(ratio),
    avg_bitrate_bps: round(timeWeightedBitrate(history.steps, played), 3),
    switch_count: started ? switches.length : null,
    latency_avg_s: round(mean(latencies)),
    latency_p95_s: round(quantile(latencies, 0.95)),
    dropped_frames: droppedFrames(signals, from),
    played_time_s: round(playedTime),
    fatal_error: tl.fatalError,
    exit_before_start: !started && !tl.fatalError && tl.hasLifecycle,
    stalls,
    switches,
  };
}

/**
 * QoE of one session's events, named `sessionId` (default: the events' stored session_key,
 * else their session_id, else 'unknown').
 */
export function computeSessionQoe(
  events: Iterable<QoeEvent>,
  opts: QoeOptions & { sessionId?: string } = {},
): SessionQoe {
  let acc: SessionAccumulator | null = null;
  for (const e of events) {
    acc ??= new SessionAccumulator(opts.sessionId ?? nameOf(e));
    acc.add(e);
  }
  return (acc ?? new SessionAccumulator(opts.sessionId ?? 'unknown')).result(opts);
}

function nameOf(e: QoeEvent): string {
  for (const v of [e.session_key, e.session_id, e.video_id]) if (typeof v === 'string' && v !== '') return v;
  return 'unknown';
}
