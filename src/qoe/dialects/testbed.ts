/**
 * The Livestreaming-Testbed's dash.js client. Our reporter SDK sends the same event types with
 * extra fields (it never renames), so these rules read both; fields only the reporter sends
 * (startup_time_ms, fatal, live_latency, throughput_bps, ...) are optional here.
 */
import { EventType } from '@stats-server/events';
import { nonNeg, num, rate, str } from '../../events/values.ts';
import type { Signal } from '../types.ts';
import { isVideo, type Payload, type SignalRule } from './rule.ts';

function htmlState(t: number, state: unknown): Signal[] {
  // The testbed sends old_state equal to new_state (it overwrites before sending), so only
  // new_state is read. 'waiting' is the HTML media element's waiting: a stall once playing.
  switch (state) {
    case 'playing':
      return [{ kind: 'playing', t }];
    case 'paused':
      return [{ kind: 'paused', t }];
    case 'seeking':
      return [{ kind: 'seeking', t }];
    case 'waiting':
    case 'stalled':
    case 'buffering':
      return [{ kind: 'stall_start', t }];
    case 'ended':
      return [{ kind: 'end', t, reason: 'ended' }];
    default:
      return [];
  }
}

function periodic(t: number, p: Payload): Signal[] {
  const out: Signal[] = [];
  const ct = num(p.current_time);
  if (ct !== null) out.push({ kind: 'playhead', t, s: ct, rate: num(p.playback_rate) });
  const bps = rate(p.current_bitrate);
  if (bps !== null) {
    out.push({ kind: 'rendition', t, bps, quality: null, fromBps: null, fromQuality: null, explicit: false });
  }
  const lat = nonNeg(p.live_latency);
  if (lat !== null) out.push({ kind: 'latency', t, s: lat });
  const tput = rate(p.throughput_bps);
  if (tput !== null) out.push({ kind: 'throughput', t, bps: tput });
  const df = nonNeg(p.dropped_frames);
  if (df !== null) out.push({ kind: 'dropped', t, frames: df });
  // The periodic buffer_level is no stall signal: the testbed fills it from audio and video
  // updates alike. It only feeds the buffer time series.
  const bl = nonNeg(p.buffer_level);
  if (bl !== null) out.push({ kind: 'buffer', t, s: bl, forStalls: false });
  return out;
}

function fragmentThroughput(p: Payload): number | null {
  const direct = rate(p.throughput_bps);
  if (direct !== null) return direct;
  const bytes = num(p.bytes);
  const ms = num(p.download_time_ms);
  return bytes !== null && ms !== null && bytes > 0 && ms > 0 ? (bytes * 8) / (ms / 1000) : null;
}

/** A video (or untyped) media segment: not an init segment, not audio or text. */
function isVideoMediaSegment(p: Payload): boolean {
  return isVideo(p) && (p.type === undefined || p.type === null || p.type === 'MediaSegment');
}

/**
 * What names a segment's rendition in its URL: the path with the query and the last run of
 * digits in the file name before its extension (the segment number or time) taken out. `seg-1-004.m4s` and
 * `seg-1-005.m4s` share `seg-1-#.m4s`; `seg-2-005.m4s` differs.
 */
export function segmentKey(url: unknown): string | null {
  if (typeof url !== 'string' || url === '') return null;
  const bare = url.split(/[?#]/, 1)[0]!;
  const slash = bare.lastIndexOf('/') + 1;
  const file = bare.slice(slash);
  const dot = file.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [file.slice(0, dot), file.slice(dot)] : [file, ''];
  return bare.slice(0, slash) + stem.replace(/\d+(?!.*\d)/, '#') + ext;
}

export const TESTBED_RULES: readonly SignalRule[] = [
  {
    dialect: 'testbed+reporter',
    eventType: EventType.STREAM_INITIALIZED,
    toSignals: (t) => [{ kind: 'init', t }],
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.PLAYBACK_STARTED,
    toSignals: (t, p) => {
      const out: Signal[] = [{ kind: 'playing', t }];
      const ms = nonNeg(p.startup_time_ms);
      if (ms !== null) out.push({ kind: 'startup_reported', t, s: ms / 1000 });
      return out;
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.PLAYBACK_STATE_CHANGED,
    toSignals: (t, p) => htmlState(t, p.new_state),
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.QUALITY_CHANGE_RENDERED,
    toSignals: (t, p) => {
      if (!isVideo(p)) return [];
      const quality = num(p.new_quality ?? p.quality);
      const fromQuality = num(p.old_quality);
      // Same index on both sides is no rendered change (the testbed also sends audio changes
      // without media_type; with one audio track those look like this).
      if (quality !== null && fromQuality !== null && quality === fromQuality) return [];
      return [
        {
          kind: 'rendition',
          t,
          bps: rate(p.bitrate ?? p.new_bitrate),
          quality,
          fromBps: rate(p.old_bitrate),
          fromQuality,
          explicit: true,
        },
      ];
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.BUFFER_LEVEL_UPDATED,
    toSignals: (t, p) => {
      const s = nonNeg(p.buffer_level);
      if (s === null) return [];
      if (isVideo(p)) return [{ kind: 'buffer', t, s, forStalls: true }];
      return p.media_type === 'audio' ? [{ kind: 'audio_buffer', t, s }] : [];
    },
  },
  {
    // Only the testbed sends it (the reporter does not): a video segment request under way.
    dialect: 'testbed+reporter',
    eventType: EventType.FRAGMENT_LOADING_STARTED,
    toSignals: (t, p) => (isVideoMediaSegment(p) ? [{ kind: 'media_request', t, open: true }] : []),
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.FRAGMENT_LOADING_COMPLETED,
    toSignals: (t, p) => {
      const out: Signal[] = [];
      const bps = isVideo(p) ? fragmentThroughput(p) : null;
      if (bps !== null) out.push({ kind: 'throughput', t, bps });
      if (isVideoMediaSegment(p)) {
        out.push({ kind: 'media_request', t, open: false });
        // The testbed's `quality` is dash.js getQualityFor('video') when the download ended.
        out.push({
          kind: 'downloaded',
          t,
          quality: num(p.quality),
          bps: rate(p.bitrate),
          rep: segmentKey(p.url),
        });
      }
      return out;
    },
  },
  {
    // "A stall started". Its buffer_level/current_bitrate are stale copies; not used.
    dialect: 'testbed+reporter',
    eventType: EventType.REBUFFER_EVENT,
    toSignals: (t) => [{ kind: 'stall_start', t }],
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.PLAYBACK_ERROR,
    toSignals: (t, p) => [
      {
        kind: 'error',
        t,
        fatal: typeof p.fatal === 'boolean' ? p.fatal : null,
        code: str(p.error_code),
      },
    ],
  },
  {
    dialect: 'testbed+reporter',
    eventType: EventType.PLAYBACK_ENDED,
    toSignals: (t) => [{ kind: 'end', t, reason: 'ended' }],
  },
  { dialect: 'testbed+reporter', eventType: EventType.PERIODIC_METRICS, toSignals: periodic },
];
