/**
 * attachDashjs(): dash.js 5 (and 4 where the API differs). Stalls are PLAYBACK_WAITING or
 * BUFFER_EMPTY after the first PLAYBACK_PLAYING (PLAYBACK_STALLED is the HTML `stalled` event
 * and never fires with MSE; one `waiting` always precedes the first frame and is ignored).
 */
import { EventType } from '@stats-server/events';
import type { Reporter } from '../reporter.ts';
import { type AttachOptions, createTracker, type Rendition } from './playback.ts';

type Listener = (e: never) => void;

/** The parts of a dash.js MediaPlayer we use (structural, so no dependency on dashjs types). */
export interface DashjsPlayer {
  on(type: string, fn: Listener, scope?: unknown): void;
  off(type: string, fn: Listener, scope?: unknown): void;
  getVideoElement(): HTMLVideoElement;
  getVersion?(): string;
  getSource?(): unknown;
  isDynamic?(): boolean;
  getCurrentLiveLatency?(): number;
  getAverageThroughput?(type: string): number;
  getDashMetrics?(): { getCurrentBufferLevel(type: string): number } | undefined;
  getSettings?(): { streaming?: { buffer?: { stallThreshold?: number } } };
  /** dash.js 5 */
  getCurrentRepresentationForType?(type: string): DashRepresentation | null;
  /** dash.js 4 */
  getQualityFor?(type: string): number;
  getBitrateInfoListFor?(type: string): { bitrate: number; width?: number; height?: number }[];
}

interface DashRepresentation {
  id?: string;
  index?: number;
  bandwidth?: number;
  width?: number;
  height?: number;
}

interface DashRequest {
  type?: string;
  mediaType?: string;
  url?: string;
  quality?: number;
  startTime?: number;
  duration?: number;
  bytesLoaded?: number;
  startDate?: Date | null;
  firstByteDate?: Date | null;
  endDate?: Date | null;
  requestEndDate?: Date | null;
  representation?: DashRepresentation | null;
}

/** dash.js's empty-buffer threshold in seconds (its default, 0.3 s, when it does not say). */
function stallThreshold(player: DashjsPlayer): number {
  try {
    const v = player.getSettings?.()?.streaming?.buffer?.stallThreshold;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0.3;
  } catch {
    return 0.3;
  }
}

/** dash.js ERROR codes that it recovers from by itself. */
const RECOVERABLE = new Set([16, 27, 33]);

const ms = (d: Date | null | undefined) => (d instanceof Date ? d.getTime() : undefined);

function fromV5(r: DashRepresentation | null | undefined): Rendition | undefined {
  if (!r) return undefined;
  return { id: r.id ?? r.index, bitrate: r.bandwidth, width: r.width, height: r.height };
}

/** Attaches after player.initialize(video, url, ...) (or attachView). Returns detach(). */
export function attachDashjs(
  player: DashjsPlayer,
  reporter: Reporter,
  options: AttachOptions = {},
): () => void {
  let video: HTMLVideoElement;
  try {
    video = player.getVideoElement();
  } catch {
    throw new TypeError('attachDashjs: call player.initialize(video, url) (or attachView) before attaching');
  }
  const v4Rendition = (type: string, q: number | undefined): Rendition | undefined => {
    if (q === undefined || !player.getBitrateInfoListFor) return undefined;
    const b = player.getBitrateInfoListFor(type)?.[q];
    return b ? { id: q, bitrate: b.bitrate, width: b.width, height: b.height } : { id: q };
  };
  const currentBitrate = (): number | undefined => {
    if (player.getCurrentRepresentationForType)
      return player.getCurrentRepresentationForType('video')?.bandwidth;
    if (player.getQualityFor) return v4Rendition('video', player.getQualityFor('video'))?.bitrate;
    return undefined;
  };
  let source: unknown;
  try {
    source = player.getSource?.();
  } catch {
    source = undefined;
  }
  const tracker = createTracker(
    video,
    reporter,
    {
      player: 'dash.js',
      playerVersion: player.getVersion?.(),
      manifestUrl: typeof source === 'string' ? source : undefined,
      stallOnWaiting: false,
      // dash.js's own empty-buffer threshold (streaming.buffer.stallThreshold), checked against
      // what the element holds. Right after the first frame dash.js sometimes fires
      // PLAYBACK_WAITING or BUFFER_EMPTY, and BUFFER_LOADED or PLAYBACK_PLAYING a few ms later,
      // while seconds of media are buffered: reported, that was a 5 ms "stall" (docs/qoe.md).
      stallMaxBufferS: stallThreshold(player),
      // A stall ends when dash.js has buffer again: Chromium keeps playing audio for a few
      // seconds while video is starved (the picture freezes, the playhead moves), so neither
      // the playhead nor `playing` tells when the viewer sees video again.
      endStallOnPlaying: false,
      endStallOnProgress: false,
      videoErrors: false,
      sample: () => ({
        buffer_level: player.getDashMetrics?.()?.getCurrentBufferLevel('video'),
        current_bitrate: currentBitrate(),
        live_latency: player.isDynamic?.() ? player.getCurrentLiveLatency?.() : undefined,
        // dash.js reports kbit/s.
        throughput_bps: (player.getAverageThroughput?.('video') ?? Number.NaN) * 1000,
      }),
    },
    options,
  );

  /** Media types whose buffer dash.js reported empty (BUFFER_EMPTY) and not yet loaded again. */
  const empty = new Set<string>();
  const handlers: Record<string, (e: never) => void> = {
    playbackWaiting: () => tracker.stallStart(),
    bufferStalled: (e: { mediaType?: string }) => {
      if (e.mediaType !== 'video' && e.mediaType !== 'audio') return;
      empty.add(e.mediaType);
      tracker.stallStart();
    },
    bufferLoaded: (e: { mediaType?: string }) => {
      if (e.mediaType) empty.delete(e.mediaType);
      if (empty.size === 0) tracker.stallEnd();
    },
    playbackPlaying: () => {
      if (empty.size === 0) tracker.stallEnd();
    },
    qualityChangeRendered: (e: {
      mediaType: string;
      newRepresentation?: DashRepresentation;
      oldRepresentation?: DashRepresentation;
      newQuality?: number;
      oldQuality?: number;
    }) => {
      const to = fromV5(e.newRepresentation) ?? v4Rendition(e.mediaType, e.newQuality);
      const from = fromV5(e.oldRepresentation) ?? v4Rendition(e.mediaType, e.oldQuality);
      if (!to) return;
      if (!tracker.current(e.mediaType) && from) tracker.rendered(e.mediaType, from);
      tracker.rendered(e.mediaType, to);
    },
    fragmentLoadingCompleted: (e: { request?: DashRequest; error?: unknown }) => {
      const r = e.request;
      if (!r || e.error) return;
      const start = ms(r.startDate);
      const first = ms(r.firstByteDate);
      const end = ms(r.endDate ?? r.requestEndDate);
      const rendition = fromV5(r.representation) ?? v4Rendition(r.mediaType ?? 'video', r.quality);
      const downloadMs = start !== undefined && end !== undefined ? end - start : undefined;
      const bytes = r.bytesLoaded;
      tracker.report(EventType.FRAGMENT_LOADING_COMPLETED, {
        type: r.type ?? null,
        url: r.url ?? null,
        quality: rendition?.id ?? r.quality ?? null,
        media_type: r.mediaType ?? null,
        start_time: r.startTime ?? null,
        duration: r.duration ?? null,
        bitrate: rendition?.bitrate ?? null,
        width: rendition?.width ?? null,
        height: rendition?.height ?? null,
        bytes: Number.isFinite(bytes) ? bytes : null,
        download_time_ms: downloadMs ?? null,
        ttfb_ms: start !== undefined && first !== undefined ? first - start : null,
        throughput_bps:
          downloadMs && bytes && Number.isFinite(bytes) ? Math.round((bytes * 8 * 1000) / downloadMs) : null,
      });
    },
    error: (e: { error?: { code?: number; message?: string; data?: unknown } }) => {
      const code = e.error?.code;
      tracker.error(
        code ?? null,
        e.error?.message ?? 'dash.js error',
        e.error?.data ?? null,
        !(code !== undefined && RECOVERABLE.has(code)),
      );
    },
    playbackError: (e: { error?: { code?: number; message?: string } }) => {
      tracker.error(e.error?.code ?? null, e.error?.message || 'media element error', null, true);
    },
  };
  for (const [type, fn] of Object.entries(handlers)) player.on(type, fn);
  return () => {
    for (const [type, fn] of Object.entries(handlers)) player.off(type, fn);
    tracker.detach();
  };
}
