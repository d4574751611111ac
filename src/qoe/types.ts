/**
 * Types shared by the QoE modules: the event shape they read, the dialect-free signals the
 * dialect table produces, and the per-session result.
 */

/** Anything shaped like a stored event (StoredEvent fits); only these fields are read. */
export interface QoeEvent {
  timestamp: number;
  event_type: string;
  payload?: Record<string, unknown> | null;
  session_id?: string | null;
  video_id?: string | null;
  protocol?: string | null;
  event_id?: string | null;
  [extra: string]: unknown;
}

/**
 * One fact about playback, in our units (seconds, bits per second), whatever dialect sent it.
 * `t` is the event timestamp in Unix seconds.
 */
export type Signal =
  /** The viewer (or autoplay) asked to play: starts the startup clock. */
  | { kind: 'play_request'; t: number }
  /** The player loaded the manifest / stream: startup clock origin when no play request is known. */
  | { kind: 'init'; t: number }
  /** Media is being rendered: the first one is the first frame, later ones end stalls, pauses, seeks. */
  | { kind: 'playing'; t: number }
  | { kind: 'paused'; t: number }
  | { kind: 'seeking'; t: number }
  /** A stall (rebuffering) started; ignored before the first frame and while seeking or paused. */
  | { kind: 'stall_start'; t: number }
  /**
   * A stall ended; `durationS` when the player measured it. `current` when the event is the end
   * of the stall in progress (reporter rebuffer_ended); false for reports about some finished
   * stall that may arrive late (CMCD bsd).
   */
  | { kind: 'stall_end'; t: number; durationS: number | null; current: boolean }
  /** Cumulative stall counters (CMCD bsa, bsda): used only when no stall intervals are known. */
  | { kind: 'stall_totals'; t: number; count: number | null; timeS: number | null }
  /** Playback is over: content ended, viewer quit, or the session was closed. */
  | { kind: 'end'; t: number; reason: 'ended' | 'quit' | 'session_end' | 'fatal' }
  /** An error; `fatal` null when the sender does not say (decided from what follows). */
  | { kind: 'error'; t: number; fatal: boolean | null; code: string | null }
  /** Startup time as measured by the player itself (reporter startup_time_ms, CMCD msd). */
  | { kind: 'startup_reported'; t: number; s: number }
  /**
   * Video buffer level, seconds. `forStalls` when it comes from a buffer update of the video
   * track (it may then start or end a stall); periodic copies only feed the time series.
   */
  | { kind: 'buffer'; t: number; s: number; forStalls: boolean }
  /** Media time at the playhead, seconds, and the playback rate when known. */
  | { kind: 'playhead'; t: number; s: number; rate: number | null }
  /**
   * The video rendition being shown. `explicit` for switch events (quality_change_rendered,
   * CMCD bc), false for periodic samples. `fromBps`/`fromQuality` when the event names the old one.
   */
  | {
      kind: 'rendition';
      t: number;
      bps: number | null;
      quality: number | null;
      fromBps: number | null;
      fromQuality: number | null;
      explicit: boolean;
    }
  /** Live latency, seconds. */
  | { kind: 'latency'; t: number; s: number }
  /** Measured network throughput, bits per second. */
  | { kind: 'throughput'; t: number; bps: number }
  /** Cumulative dropped video frames since the player started. */
  | { kind: 'dropped'; t: number; frames: number };

export type SignalKind = Signal['kind'];

/** Warm-up trim: nothing, a number of seconds, or a fraction (0 < f < 1) of each session. */
export type Warmup =
  | { mode: 'none' }
  | { mode: 'seconds'; seconds: number }
  | { mode: 'fraction'; fraction: number };

export interface QoeOptions {
  warmup?: Warmup;
}

export interface Stall {
  /** Unix seconds. */
  start: number;
  end: number;
  duration_s: number;
}

export interface Switch {
  timestamp: number;
  from_bps: number | null;
  to_bps: number | null;
}

/** The per-session QoE record (the `sessions[]` items of GET /api/experiments/:id/qoe). */
export interface SessionQoe {
  session_id: string;
  video_id: string | null;
  protocol: string | null;
  startup_time_s: number | null;
  stall_count: number | null;
  stall_time_s: number | null;
  rebuffering_ratio: number | null;
  avg_bitrate_bps: number | null;
  switch_count: number | null;
  latency_avg_s: number | null;
  latency_p95_s: number | null;
  dropped_frames: number | null;
  played_time_s: number | null;
  fatal_error: boolean;
  exit_before_start: boolean;
  stalls: Stall[];
  switches: Switch[];
}

/** The numeric SessionQoe fields that get aggregated over sessions. */
export const AGGREGATED_METRICS = [
  'startup_time_s',
  'stall_count',
  'stall_time_s',
  'rebuffering_ratio',
  'avg_bitrate_bps',
  'switch_count',
  'latency_avg_s',
  'latency_p95_s',
  'dropped_frames',
  'played_time_s',
  'fatal_error',
  'exit_before_start',
] as const;
export type AggregatedMetric = (typeof AGGREGATED_METRICS)[number];

export interface Summary {
  mean: number | null;
  median: number | null;
  p95: number | null;
  n: number;
}
