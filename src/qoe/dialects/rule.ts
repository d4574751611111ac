/** The shape of a dialect rule: one event type (or a family of them) to dialect-free signals. */
import type { Signal } from '../types.ts';

export type Payload = Record<string, unknown>;

export interface SignalRule {
  /** Who sends it, for docs and debugging. */
  dialect: 'testbed+reporter' | 'reporter' | 'cmcd';
  /** Exact event type, or a prefix ending in '*'. */
  eventType: string;
  /** The signals of one event at Unix time `t` (seconds); `eventType` is the event's own type. */
  toSignals(t: number, p: Payload, eventType: string): Signal[];
}

/** docs/events.md: an event without media_type counts as video. */
export function isVideo(p: Payload): boolean {
  const m = p.media_type;
  return m === undefined || m === null || m === 'video';
}
