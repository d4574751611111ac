/**
 * attachShaka(): Shaka Player 4/5. Stalls are Shaka's own `buffering` events after the first
 * frame (Shaka holds playback at rate 0 while it rebuffers, so the element's waiting/playing
 * do not bracket the stall); rendered switches are `mediaqualitychanged`.
 */
import { EventType } from '@stats-server/events';
import type { Reporter } from '../reporter.ts';
import { type AttachOptions, bufferedAhead, createTracker } from './playback.ts';

interface ShakaStats {
  estimatedBandwidth?: number;
  streamBandwidth?: number;
  liveLatency?: number;
}

/** The parts of a shaka.Player we use. */
export interface ShakaPlayer {
  addEventListener(type: string, fn: (e: never) => void): void;
  removeEventListener(type: string, fn: (e: never) => void): void;
  getMediaElement(): HTMLMediaElement | null;
  getStats?(): ShakaStats;
  getAssetUri?(): string | null;
  isLive?(): boolean;
  configure?(config: object): boolean;
  getVariantTracks?(): {
    active?: boolean;
    bandwidth?: number;
    videoBandwidth?: number | null;
    width?: number | null;
    height?: number | null;
  }[];
}

interface ShakaStream {
  type?: string;
  bandwidth?: number;
  width?: number;
  height?: number;
  id?: number;
}

/** shaka.net.NetworkingEngine.RequestType.SEGMENT and AdvancedRequestType.INIT_SEGMENT. */
const SEGMENT = 1;
const INIT_SEGMENT = 0;
/** shaka.util.Error.Severity.CRITICAL */
const CRITICAL = 2;

/**
 * Attaches after player.attach(video) and before player.load(): it turns on Shaka's
 * streaming.observeQualityChanges, which is read at load, so rendered switches are reported.
 * Returns detach().
 */
export function attachShaka(
  player: ShakaPlayer,
  reporter: Reporter,
  options: AttachOptions = {},
): () => void {
  const video = player.getMediaElement();
  if (!video) throw new TypeError('attachShaka: call player.attach(video) before attaching');
  player.configure?.({ streaming: { observeQualityChanges: true } });
  /**
   * A video rendition. HLS streams carry no bitrate of their own in Shaka (only variants do),
   * so fall back to the variant of that resolution; the id is the resolution.
   */
  const rendition = (width?: number, height?: number, bandwidth?: number | null) => {
    let bitrate = bandwidth || undefined;
    if (!bitrate && height) {
      const tracks = player.getVariantTracks?.() ?? [];
      const t =
        tracks.find((v) => v.height === height && v.active) ?? tracks.find((v) => v.height === height);
      bitrate = t?.videoBandwidth || t?.bandwidth || undefined;
    }
    return { id: height ? `${width}x${height}` : bitrate, bitrate, width, height };
  };
  const version = (player.constructor as { version?: string }).version;
  const tracker = createTracker(
    video,
    reporter,
    {
      player: 'shaka-player',
      playerVersion: version,
      manifestUrl: () => player.getAssetUri?.(),
      // mediaqualitychanged may not fire for the first rendition: record it from the active track.
      onStart: () => {
        const t = player.getVariantTracks?.().find((v) => v.active);
        if (t && !tracker.current('video')) {
          tracker.rendered('video', rendition(t.width ?? undefined, t.height ?? undefined, t.videoBandwidth));
        }
      },
      stallOnWaiting: false,
      endStallOnPlaying: false,
      videoErrors: false,
      sample: () => {
        const s = player.getStats?.() ?? {};
        return {
          buffer_level: bufferedAhead(video),
          current_bitrate: tracker.current('video')?.bitrate ?? s.streamBandwidth,
          live_latency: player.isLive?.() ? s.liveLatency : undefined,
          throughput_bps: s.estimatedBandwidth,
        };
      },
    },
    options,
  );

  const handlers: Record<string, (e: never) => void> = {
    buffering: (e: { buffering?: boolean }) => (e.buffering ? tracker.stallStart() : tracker.stallEnd()),
    mediaqualitychanged: (e: { mediaQuality?: ShakaStream & { contentType?: string } }) => {
      const q = e.mediaQuality;
      if (!q) return;
      const type = q.contentType ?? 'video';
      if (type === 'video')
        tracker.rendered(type, rendition(q.width ?? undefined, q.height ?? undefined, q.bandwidth));
      else tracker.rendered(type, { id: q.bandwidth, bitrate: q.bandwidth });
    },
    downloadcompleted: (e: {
      requestType?: number;
      request?: { uris?: string[] };
      response?: { uri?: string; timeMs?: number; data?: ArrayBuffer | ArrayBufferView };
      context?: { type?: number; stream?: ShakaStream; segment?: { startTime?: number; endTime?: number } };
    }) => {
      if (e.requestType !== SEGMENT) return;
      const stream = e.context?.stream;
      const seg = e.context?.segment;
      const bytes = e.response?.data?.byteLength;
      const t = e.response?.timeMs;
      const video =
        stream?.type === 'video'
          ? rendition(stream.width ?? undefined, stream.height ?? undefined, stream.bandwidth)
          : undefined;
      tracker.report(EventType.FRAGMENT_LOADING_COMPLETED, {
        type: e.context?.type === INIT_SEGMENT ? 'InitializationSegment' : 'MediaSegment',
        url: e.response?.uri ?? e.request?.uris?.[0] ?? null,
        quality: stream?.id ?? null,
        media_type: stream?.type ?? null,
        start_time: seg?.startTime ?? null,
        duration:
          seg && seg.endTime !== undefined && seg.startTime !== undefined
            ? seg.endTime - seg.startTime
            : null,
        bitrate: video?.bitrate ?? (stream?.bandwidth || null),
        width: stream?.width ?? null,
        height: stream?.height ?? null,
        bytes: bytes ?? null,
        download_time_ms: t ?? null,
        ttfb_ms: null,
        throughput_bps: t && bytes ? Math.round((bytes * 8 * 1000) / t) : null,
      });
    },
    error: (e: {
      detail?: { code?: number; category?: number; severity?: number; message?: string; data?: unknown };
    }) => {
      const d = e.detail;
      tracker.error(
        d?.code ?? null,
        d?.message ?? `Shaka error ${d?.code ?? ''}`.trim(),
        { category: d?.category ?? null, data: d?.data ?? null },
        d?.severity === CRITICAL,
      );
    },
  };
  for (const [type, fn] of Object.entries(handlers)) player.addEventListener(type, fn);
  return () => {
    for (const [type, fn] of Object.entries(handlers)) player.removeEventListener(type, fn);
    tracker.detach();
  };
}
