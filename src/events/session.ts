/**
 * The session key of an event (docs/events.md): top-level `session_id`, else a string
 * `payload.session_id`, else `video_id` (empty strings count as absent). Stores implement the
 * same rule in their queries; it matches src/qoe's sessionKey.
 */
import type { StoredEvent } from './schema.ts';

export type SessionSource = 'session_id' | 'video_id';

export interface SessionKey {
  key: string;
  source: SessionSource;
}

/** Which session an event belongs to, and whether an explicit id or the video_id named it. */
export function sessionKeyOf(e: Pick<StoredEvent, 'session_id' | 'video_id' | 'payload'>): SessionKey {
  if (typeof e.session_id === 'string' && e.session_id !== '')
    return { key: e.session_id, source: 'session_id' };
  const p = e.payload?.session_id;
  if (typeof p === 'string' && p !== '') return { key: p, source: 'session_id' };
  return { key: String(e.video_id ?? 'unknown'), source: 'video_id' };
}
