/**
 * The playback state machine every adapter shares: startup time, stalls (start and end,
 * never before the first frame, never during a seek), rendered quality switches, the end of
 * playback and periodic samples. The <video> element gives the common signals; each adapter
 * adds what its player knows better (which events mean a stall, bitrates, latency, fragments).
 */
import { EventType } from '@stats-server/events';
import type { Reporter } from '../reporter.ts';

export interface AttachOptions {
  /** periodic_metrics every this many ms (default 5000; 0 turns them off). */
  periodicIntervalMs?: number;
}

/** A rendition as the player describes it. Bitrate in bits per second. */
export interface Rendition {
  id?: string | number;
  bitrate?: number;
  width?: number;
  height?: number;
}

/** What an adapter knows better than the <video> element; every field optional. */
export interface PlayerSample {
  buffer_level?: number;
  current_bitrate?: number;
  live_latency?: number;
  throughput_bps?: number;
}

export interface TrackerConfig {
  player: string;
  playerVersion?: string;
  /** The manifest URL, or a getter when the player only knows it after loading. */
  manifestUrl?: string | (() => string | null | undefined);
  /** Count the element's `waiting` (after the first frame) as a stall start (default true). */
  stallOnWaiting?: boolean;
  /** End a stall on the element's `playing` (default true). */
  endStallOnPlaying?: boolean;
  /** End a stall when the playhead moves again (default true; some players resume without `playing`). */
  endStallOnProgress?: boolean;
  /**
   * A stall signal while the element holds more than this much media (seconds) at the playhead
   * is ignored: the player has not run out of media (unset: every signal counts).
   */
  stallMaxBufferS?: number;
  /** Report the element's own `error` (off when the player reports errors itself). */
  videoErrors?: boolean;
  sample?: () => PlayerSample;
  /** Called at the first frame (e.g. to record the starting rendition). */
  onStart?: () => void;
}

export type PlaybackState = 'idle' | 'playing' | 'paused' | 'waiting' | 'seeking' | 'ended';

export interface Tracker {
  /**
   * The player says playback stalled (ignored before the first frame, while seeking, near the
   * end, or while the element holds more than `stallMaxBufferS` of media at the playhead).
   */
  stallStart(): void;
  /** The player says playback resumed. */
  stallEnd(): void;
  /** The rendition shown for a media type changed (the first one is recorded, not reported). */
  rendered(mediaType: string, to: Rendition): void;
  /** Playback reached the end (the element's `ended`, or a player that stalls at the end of VOD). */
  ended(): void;
  /** A media-type's last rendered rendition. */
  current(mediaType: string): Rendition | undefined;
  error(code: unknown, message: string, data: unknown, fatal: boolean): void;
  report(eventType: string, payload: Record<string, unknown>): void;
  /** Stops listening (does not end the reporter's session). */
  detach(): void;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Seconds of media buffered ahead of the playhead, from the element's buffered ranges. */
export function bufferedAhead(video: HTMLMediaElement): number {
  const t = video.currentTime;
  const b = video.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i) - t;
  }
  return 0;
}

export function createTracker(
  video: HTMLMediaElement,
  reporter: Reporter,
  config: TrackerConfig,
  options: AttachOptions = {},
): Tracker {
  const intervalMs = options.periodicIntervalMs ?? 5000;
  const now = () => performance.now();
  let state: PlaybackState = 'idle';
  let playRequestedAt: number | undefined;
  let started = false;
  let ended = false;
  let stallSince: number | undefined;
  let stallAt = 0;
  let endTimer: ReturnType<typeof setTimeout> | undefined;
  let stalls = 0;
  const renditions = new Map<string, Rendition>();
  const sample = (): PlayerSample => {
    try {
      return config.sample?.() ?? {};
    } catch {
      return {};
    }
  };
  // The rendition on screen, not the one being downloaded (players' "current" is often the latter).
  const manifestUrl = () => {
    try {
      return (
        (typeof config.manifestUrl === 'function' ? config.manifestUrl() : config.manifestUrl) ?? undefined
      );
    } catch {
      return undefined;
    }
  };
  const bitrate = () => renditions.get('video')?.bitrate ?? sample().current_bitrate ?? null;

  const setState = (next: PlaybackState) => {
    if (next === state) return;
    reporter.report(EventType.PLAYBACK_STATE_CHANGED, { old_state: state, new_state: next });
    state = next;
  };

  const nearEnd = () => Number.isFinite(video.duration) && video.currentTime >= video.duration - 0.3;

  const requestPlay = (autoplay: boolean) => {
    if (started || playRequestedAt !== undefined) return;
    playRequestedAt = now();
    reporter.report(EventType.PLAY_REQUESTED, { autoplay });
  };

  const firstFrame = () => {
    if (started) return;
    started = true;
    config.onStart?.();
    requestPlay(true);
    const v = renditions.get('video');
    reporter.report(EventType.PLAYBACK_STARTED, {
      startup_time_ms: Math.round(now() - (playRequestedAt ?? now())),
      ...(manifestUrl() ? { mpd_url: manifestUrl() } : {}),
      ...(v?.bitrate ? { bitrate: v.bitrate } : {}),
    });
  };

  const stallStart = () => {
    if (!started || ended || stallSince !== undefined || video.seeking || video.paused || nearEnd()) return;
    if (config.stallMaxBufferS !== undefined && bufferedAhead(video) > config.stallMaxBufferS) return;
    stallSince = now();
    stallAt = video.currentTime;
    stalls += 1;
    const s = sample();
    reporter.report(EventType.REBUFFER_EVENT, {
      rebuffer_count: stalls,
      buffer_level: s.buffer_level ?? bufferedAhead(video),
      current_bitrate: bitrate(),
      current_time: video.currentTime,
    });
    setState('waiting');
  };

  /** Ends a stall; `resumed` when playback goes on (not a pause, seek, end or error). */
  const stallEnd = (resumed = true) => {
    if (stallSince === undefined) return;
    const duration = now() - stallSince;
    stallSince = undefined;
    reporter.report(EventType.REBUFFER_ENDED, { duration_ms: Math.round(duration), rebuffer_count: stalls });
    if (resumed && !video.paused && !video.ended) setState('playing');
  };

  const end = () => {
    if (ended || !started) return;
    stallEnd(false);
    periodic();
    ended = true;
    setState('ended');
    reporter.report(EventType.PLAYBACK_ENDED, { total_rebuffers: stalls });
  };

  const periodic = () => {
    if (!started || ended) return;
    const s = sample();
    const v = video as HTMLVideoElement;
    const q = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : undefined;
    reporter.report(EventType.PERIODIC_METRICS, {
      current_time: video.currentTime,
      duration: num(video.duration),
      playback_rate: video.playbackRate,
      dropped_frames: q ? q.droppedVideoFrames : null,
      buffer_level: s.buffer_level ?? bufferedAhead(video),
      current_bitrate: bitrate(),
      live_latency: num(s.live_latency),
      throughput_bps: num(s.throughput_bps),
      width: v.videoWidth || null,
      height: v.videoHeight || null,
      stalled: stallSince !== undefined,
    });
  };

  const listeners: Record<string, () => void> = {
    play: () => {
      // Without any user interaction on the page so far, the play can only be an autoplay.
      const ua = (navigator as Navigator & { userActivation?: { hasBeenActive: boolean } }).userActivation;
      requestPlay(video.autoplay || !(ua?.hasBeenActive ?? true));
    },
    playing: () => {
      firstFrame();
      if (config.endStallOnPlaying !== false) stallEnd();
      if (stallSince === undefined) setState('playing');
    },
    // Some players resume without a `playing` event: the playhead moving ends a stall too.
    timeupdate: () => {
      if (config.endStallOnProgress === false || stallSince === undefined) return;
      if (video.currentTime > stallAt + 0.2 && !video.paused) stallEnd();
    },
    waiting: () => {
      if (config.stallOnWaiting !== false) stallStart();
      // Stuck on the last frames of a VOD (MSE tracks ending a few ms apart): Chromium may
      // never fire `ended`, so a playhead that stays put there for a second is the end.
      if (started && !ended && nearEnd() && endTimer === undefined) {
        const at = video.currentTime;
        endTimer = setTimeout(() => {
          endTimer = undefined;
          if (!video.paused && !video.seeking && video.currentTime === at && nearEnd()) end();
        }, 1000);
      }
    },
    pause: () => {
      if (video.ended) return;
      stallEnd(false);
      setState('paused');
    },
    seeking: () => {
      stallEnd(false);
      if (started) setState('seeking');
    },
    seeked: () => {
      if (started) setState(video.paused ? 'paused' : 'playing');
    },
    ended: () => end(),
    error: () => {
      if (config.videoErrors === false) return;
      const e = video.error;
      tracker.error(e?.code ?? null, e?.message || 'media element error', null, true);
    },
  };
  for (const [type, fn] of Object.entries(listeners)) video.addEventListener(type, fn);
  const timer = intervalMs > 0 ? setInterval(periodic, intervalMs) : undefined;

  reporter.report(EventType.STREAM_INITIALIZED, {
    player: config.player,
    player_version: config.playerVersion ?? null,
    manifest_url: manifestUrl() ?? null,
  });
  // Attached after play() was called: start the startup clock now, as well as we can.
  if (!video.paused) requestPlay(true);
  if (!video.paused && video.readyState >= 3 && video.currentTime > 0) firstFrame();

  const tracker: Tracker = {
    stallStart,
    stallEnd: () => stallEnd(),
    ended: end,
    rendered(mediaType, to) {
      const prev = renditions.get(mediaType);
      renditions.set(mediaType, to);
      if (!prev || (prev.id === to.id && prev.bitrate === to.bitrate)) return;
      reporter.report(EventType.QUALITY_CHANGE_RENDERED, {
        media_type: mediaType,
        old_quality: prev.id ?? null,
        new_quality: to.id ?? null,
        bitrate: to.bitrate ?? null,
        old_bitrate: prev.bitrate ?? null,
        width: to.width ?? null,
        height: to.height ?? null,
      });
    },
    current: (mediaType) => renditions.get(mediaType),
    error(code, message, data, fatal) {
      if (fatal) stallEnd(false);
      reporter.report(EventType.PLAYBACK_ERROR, {
        error_code: code ?? null,
        error_message: message,
        error_data: data ?? null,
        fatal,
      });
    },
    report: (type, payload) => reporter.report(type, payload),
    detach() {
      for (const [type, fn] of Object.entries(listeners)) video.removeEventListener(type, fn);
      if (timer !== undefined) clearInterval(timer);
      if (endTimer !== undefined) clearTimeout(endTimer);
    },
  };
  return tracker;
}
