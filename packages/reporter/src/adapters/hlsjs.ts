/**
 * attachHlsjs(): hls.js 1.x. Stalls are the element's `waiting` after the first frame or
 * hls.js's bufferStalledError (whichever comes first), ended by `playing` or STALL_RESOLVED.
 * LEVEL_SWITCHED fires when the playhead enters a fragment of another level: a rendered switch.
 */
import { EventType } from '@stats-server/events';
import type { Reporter } from '../reporter.ts';
import { type AttachOptions, createTracker } from './playback.ts';

interface HlsLevel {
  bitrate?: number;
  width?: number;
  height?: number;
  details?: { live?: boolean };
}

interface HlsTiming {
  start: number;
  first?: number;
  end: number;
}

interface HlsFragment {
  type?: string;
  sn?: number | string;
  level?: number;
  url?: string;
  start?: number;
  duration?: number;
  stats?: { loaded?: number; loading?: HlsTiming };
}

/** The parts of an Hls instance we use. */
export interface HlsjsPlayer {
  on(event: string, fn: (event: string, data: never) => void): void;
  off(event: string, fn: (event: string, data: never) => void): void;
  readonly media: HTMLMediaElement | null;
  readonly levels: HlsLevel[];
  readonly currentLevel: number;
  readonly url?: string | null;
  readonly latency?: number;
  readonly bandwidthEstimate?: number;
  readonly mainForwardBufferInfo?: { len: number } | null;
}

/** Error details that describe a stall, not a failure (reported as rebuffer events instead). */
const STALL_DETAILS = new Set(['bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole']);

/** Attaches after hls.attachMedia(video). Returns detach(). */
export function attachHlsjs(hls: HlsjsPlayer, reporter: Reporter, options: AttachOptions = {}): () => void {
  const video = hls.media;
  if (!video) throw new TypeError('attachHlsjs: call hls.attachMedia(video) before attaching');
  const level = (i: number | undefined) => (i === undefined || i < 0 ? undefined : hls.levels?.[i]);
  const version = (hls.constructor as { version?: string }).version;
  const tracker = createTracker(
    video,
    reporter,
    {
      player: 'hls.js',
      playerVersion: version,
      manifestUrl: hls.url ?? undefined,
      videoErrors: false,
      sample: () => ({
        buffer_level: hls.mainForwardBufferInfo?.len,
        current_bitrate: level(hls.currentLevel)?.bitrate,
        live_latency: level(hls.currentLevel)?.details?.live ? hls.latency : undefined,
        throughput_bps: hls.bandwidthEstimate,
      }),
    },
    options,
  );

  const handlers: Record<string, (event: string, data: never) => void> = {
    hlsLevelSwitched: (_e, data: { level: number }) => {
      const l = level(data.level);
      tracker.rendered('video', { id: data.level, bitrate: l?.bitrate, width: l?.width, height: l?.height });
    },
    hlsFragLoaded: (_e, data: { frag?: HlsFragment }) => {
      const f = data.frag;
      if (!f) return;
      const t = f.stats?.loading;
      const bytes = f.stats?.loaded;
      const downloadMs = t && t.end > 0 ? t.end - t.start : undefined;
      const main = f.type === 'main';
      const l = main ? level(f.level) : undefined;
      tracker.report(EventType.FRAGMENT_LOADING_COMPLETED, {
        type: f.sn === 'initSegment' ? 'InitializationSegment' : 'MediaSegment',
        url: f.url ?? null,
        quality: f.level ?? null,
        media_type: main ? 'video' : (f.type ?? null),
        start_time: f.start ?? null,
        duration: f.duration ?? null,
        bitrate: l?.bitrate ?? null,
        width: l?.width ?? null,
        height: l?.height ?? null,
        bytes: bytes ?? null,
        download_time_ms: downloadMs ?? null,
        ttfb_ms: t?.first && t.first > 0 ? t.first - t.start : null,
        throughput_bps: downloadMs && bytes ? Math.round((bytes * 8 * 1000) / downloadMs) : null,
      });
    },
    hlsError: (_e, data: { type?: string; details?: string; fatal?: boolean; error?: Error }) => {
      if (data.details && STALL_DETAILS.has(data.details)) {
        tracker.stallStart();
        return;
      }
      tracker.error(
        data.details ?? null,
        data.error?.message ?? data.details ?? 'hls.js error',
        { type: data.type ?? null },
        data.fatal === true,
      );
    },
    hlsStallResolved: () => tracker.stallEnd(),
    // hls.js 1.6+: the element's `ended`, or playback stuck at the end of a VOD (MSE streams
    // whose tracks end a few ms apart never fire `ended` in Chromium).
    hlsMediaEnded: () => tracker.ended(),
  };
  for (const [type, fn] of Object.entries(handlers)) hls.on(type, fn);
  return () => {
    for (const [type, fn] of Object.entries(handlers)) hls.off(type, fn);
    tracker.detach();
  };
}
