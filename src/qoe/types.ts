/**
 * Types shared by the QoE modules: the event shape they read, the dialect-free signals the
 * dialect rules produce, and the per-session result. Reply types are derived from their TypeBox
 * schemas (schema.ts), so the route's validation, OpenAPI and these types cannot drift apart.
 */
import type { Static } from 'typebox';
import type {
  AGGREGATED_METRICS,
  SessionQoeSchema,
  StallSchema,
  SummarySchema,
  SwitchSchema,
  WarmupSchema,
} from './schema.ts';

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
  /**
   * A stall (rebuffering) started; ignored before the first frame and while seeking or paused.
   * `level` when the sender only says "rebuffering now" (CMCD `sta=r` outside a `ps` report):
   * it opens a stall when none is open but never begins a second one.
   */
  | { kind: 'stall_start'; t: number; level?: boolean }
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
  /**
   * Audio buffer level, seconds (testbed buffer_level_updated for audio). Read only in sessions
   * whose playback is seen in the buffers alone: audio draining means the playhead moves.
   */
  | { kind: 'audio_buffer'; t: number; s: number }
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
  /**
   * A video media segment request began (`open`) or finished. The timeline uses them to tell
   * a starving player (a request under way) from one that reached the end of the content.
   */
  | { kind: 'media_request'; t: number; open: boolean }
  /**
   * A video media segment was downloaded at this rendition: its quality index, bitrate, or a
   * key from its URL, whichever the sender gives. Renditions are read from downloads only in
   * sessions that say nothing about the rendition shown (no `rendition` signal).
   */
  | { kind: 'downloaded'; t: number; quality: number | null; bps: number | null; rep: string | null }
  /** Live latency, seconds. */
  | { kind: 'latency'; t: number; s: number }
  /** Measured network throughput, bits per second. */
  | { kind: 'throughput'; t: number; bps: number }
  /** Cumulative dropped video frames since the player started. */
  | { kind: 'dropped'; t: number; frames: number };

export type SignalKind = Signal['kind'];

export interface Interval {
  start: number;
  end: number;
}

export interface PlaybackTimeline {
  /** First rendered frame (null: never started). */
  firstFrame: number | null;
  /** True when the first frame was only inferred from an advancing playhead. */
  firstFrameInferred: boolean;
  /**
   * True when the first frame was inferred from the video buffer being consumed, in a session
   * with no playing signal (the testbed page under dash.js 4): a startup is still known.
   */
  firstFrameFromBuffer: boolean;
  /**
   * True when the first frame is the time of a player-reported startup (CMCD `msd`) in a
   * session with no playing signal at all.
   */
  firstFrameFromReport: boolean;
  playRequest: number | null;
  init: number | null;
  startupReportedS: number | null;
  played: Interval[];
  stalls: Interval[];
  /** Errors after deciding unflagged ones; `fatal` is final here. */
  errors: Array<{ t: number; fatal: boolean; code: string | null }>;
  fatalError: boolean;
  /**
   * Whether the session says anything about its life cycle (start, play, end, errors). A
   * session of only CMCD request data does not, so "exit before start" cannot be claimed.
   */
  hasLifecycle: boolean;
}

/** Warm-up trim: nothing, a number of seconds, or a fraction (0 < f < 1) of each session. */
export type Warmup = Static<typeof WarmupSchema>;

export interface QoeOptions {
  warmup?: Warmup;
}

/** A stall interval of the QoE reply; Unix seconds. */
export type Stall = Static<typeof StallSchema>;

/** A rendition switch of the QoE reply. */
export type Switch = Static<typeof SwitchSchema>;

/** The per-session QoE record (the `sessions[]` items of GET /api/experiments/:id/qoe). */
export type SessionQoe = Static<typeof SessionQoeSchema>;

export type AggregatedMetric = (typeof AGGREGATED_METRICS)[number];

/** Mean, median, p95 and n of one metric over sessions. */
export type Summary = Static<typeof SummarySchema>;
