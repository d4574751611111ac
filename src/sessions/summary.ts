/**
 * A session's summary as every list shows it, and the rules that make it from events: count,
 * time span, its video (the earliest video_id other than "unknown": CMCD players send `cid` on
 * some reports only) and its protocol (the earliest other than "cmcd"). Both stores fold events
 * into these figures with the one delta below (src/store/sqlite/compaction.ts, src/store/mongo/);
 * the in-memory QoE (src/qoe/session.ts) is what they must equal.
 */
import type { BaseKey, SessionSource } from './key.ts';

/** The protocol of CMCD events whose streaming format is not known yet (src/cmcd/map.ts). */
export const CMCD_PROTOCOL = 'cmcd';

/** The video_id of events that name none (src/events/normalize.ts). */
export const UNKNOWN_VIDEO = 'unknown';

/** True when a video id says which video was played. */
export const isKnownVideo = (v: unknown): v is string =>
  typeof v === 'string' && v !== '' && v !== UNKNOWN_VIDEO;

export interface SessionSummary {
  session_id: string;
  /** How the session was keyed: an explicit session id, or the video_id fallback. */
  source: SessionSource;
  count: number;
  first_timestamp: number;
  last_timestamp: number;
  video_id: string;
  protocol: string;
}

/**
 * A session's protocol: its earliest protocol other than `cmcd` (CMCD reports sent before the
 * player knows the streaming format say `cmcd`), else the protocol of its first event.
 */
export function sessionProtocol(known: string | null | undefined, first: string): string {
  return known ?? first;
}

/** True for a protocol that names the streaming format. */
export const isKnownProtocol = (p: string): boolean => p !== '' && p !== CMCD_PROTOCOL;

let clock = 0;
/**
 * A new summary version: unique and increasing across restarts (microseconds of wall-clock
 * time), so a QoE computed from an older version is never saved over a newer one.
 */
export function nextVersion(): number {
  clock = Math.max(clock + 1, Date.now() * 1000);
  return clock;
}

/** What some events add to one session (folded in any order). */
export interface Delta {
  key: string;
  base: string | null;
  runNo: number;
  source: SessionSource;
  count: number;
  firstTs: number;
  firstId: string;
  lastTs: number;
  /** The earliest video_id other than "unknown" (isKnownVideo), else "unknown". */
  videoId: string;
  videoAt: number | null;
  videoRef: string;
  firstProtocol: string;
  knownProtocol: string | null;
  knownAt: number | null;
  knownId: string;
}

/** Starts a delta from one event (`id`: its _id, the tie-breaker at equal timestamps). */
export function newDelta(
  key: string,
  bk: Pick<BaseKey, 'base' | 'source' | 'split'>,
  runNo: number,
  e: { timestamp: number; video_id?: unknown; protocol?: unknown },
  id: string,
): Delta {
  const protocol = e.protocol === undefined || e.protocol === null ? '' : String(e.protocol);
  const known = isKnownProtocol(protocol);
  return {
    key,
    base: bk.split ? bk.base : null,
    runNo,
    source: bk.source,
    count: 1,
    firstTs: e.timestamp,
    firstId: id,
    lastTs: e.timestamp,
    videoId: isKnownVideo(e.video_id) ? e.video_id : UNKNOWN_VIDEO,
    videoAt: isKnownVideo(e.video_id) ? e.timestamp : null,
    videoRef: id,
    firstProtocol: protocol,
    knownProtocol: known ? protocol : null,
    knownAt: known ? e.timestamp : null,
    knownId: id,
  };
}

/** Adds one more event to a delta. */
export function addToDelta(
  x: Delta,
  e: { timestamp: number; video_id?: unknown; protocol?: unknown },
  id: string,
) {
  const protocol = e.protocol === undefined || e.protocol === null ? '' : String(e.protocol);
  const t = e.timestamp;
  x.count++;
  if (t < x.firstTs || (t === x.firstTs && id < x.firstId)) {
    x.firstTs = t;
    x.firstId = id;
    x.firstProtocol = protocol;
  }
  if (
    isKnownVideo(e.video_id) &&
    (x.videoAt === null || t < x.videoAt || (t === x.videoAt && id < x.videoRef))
  ) {
    x.videoAt = t;
    x.videoRef = id;
    x.videoId = e.video_id;
  }
  if (t > x.lastTs) x.lastTs = t;
  if (
    isKnownProtocol(protocol) &&
    (x.knownAt === null || t < x.knownAt || (t === x.knownAt && id < x.knownId))
  ) {
    x.knownAt = t;
    x.knownId = id;
    x.knownProtocol = protocol;
  }
}
