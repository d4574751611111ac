/**
 * Why a per-session figure is null, in words the dashboard shows next to its "—": a figure
 * that cannot be known says so instead of passing for a missing zero (docs/qoe.md).
 */
import type { SessionQoe } from './types.ts';

/** What the fold knows about a session beyond its figures. */
export interface NullContext {
  started: boolean;
  /** The first frame was only inferred from an advancing playhead. */
  firstFrameInferred: boolean;
  /** Renditions were seen, all without a bitrate (quality indexes or segment URLs only). */
  renditionsWithoutBitrate: boolean;
}

/** The reasons for the null figures of `q` (keyed by field), or undefined when none is null. */
export function whyNull(q: SessionQoe, ctx: NullContext): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const never = q.fatal_error
    ? 'playback never started: a fatal error came first'
    : q.exit_before_start
      ? 'playback never started (exit before start)'
      : 'no event of the session shows playback';
  if (q.startup_time_s === null) {
    out.startup_time_s = !ctx.started
      ? never
      : ctx.firstFrameInferred
        ? 'the first frame is only inferred from the playhead, its time is unknown'
        : 'nothing before the first frame shows when loading began';
  }
  for (const k of ['stall_count', 'stall_time_s', 'switch_count'] as const) if (q[k] === null) out[k] = never;
  if (q.rebuffering_ratio === null) out.rebuffering_ratio = ctx.started ? 'no played or stalled time' : never;
  if (q.avg_bitrate_bps === null) {
    out.avg_bitrate_bps = !ctx.started
      ? never
      : ctx.renditionsWithoutBitrate
        ? 'the player names renditions by quality index or segment URL only; their bitrates are in the MPD, which the server does not see'
        : 'no event names the bitrate shown';
  }
  if (q.latency_avg_s === null) out.latency_avg_s = 'no live-latency samples (VOD, or the player sends none)';
  if (q.latency_p95_s === null) out.latency_p95_s = out.latency_avg_s ?? 'no live-latency samples';
  if (q.dropped_frames === null) out.dropped_frames = 'the player sends no dropped-frame counter';
  return Object.keys(out).length > 0 ? out : undefined;
}
