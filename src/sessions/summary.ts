/**
 * A session's summary as every list shows it, and the rules that make it from events: count,
 * time span, its video (the earliest video_id other than "unknown": CMCD players send `cid` on
 * some reports only) and its protocol (the earliest other than "cmcd"). The stores maintain the same figures at
 * ingest (src/store/sqlite/write-ops.ts, src/store/mongo/); this fold is what they must equal.
 */
import type { SessionSource } from './key.ts';

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
