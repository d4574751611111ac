/**
 * What session an event belongs to: the one rule, applied once at ingest (the stores keep its
 * result with the event) and by the rebuild that re-derives stored keys.
 *
 * - A top-level `session_id` names the session: it is used as is.
 * - Otherwise the event falls back to a string `payload.session_id`, else to `video_id` (empty
 *   strings count as absent). Such a fallback key is only a *base*: the testbed's page sends no
 *   session id and its runner reuses one experiment id for every run of a scenario, so each run
 *   would land in one session keyed by the manifest URL. Runs of a base are therefore split at
 *   every `stream_initialized` and after a long silence (src/sessions/runs.ts); run 1 keeps the
 *   base as its id, run n is `<base>#<n>`.
 */

/** How the session was keyed, as the sessions list reports it. */
export type SessionSource = 'session_id' | 'video_id';

export interface BaseKey {
  /** The explicit session id, or the fallback key that runs are split from. */
  base: string;
  source: SessionSource;
  /** True for fallback keys, whose runs are split into sessions. */
  split: boolean;
}

/** The fields the rule reads. */
export interface KeyedEvent {
  session_id?: unknown;
  video_id?: unknown;
  payload?: unknown;
}

/** The event type that starts a new run of a fallback key (the player (re)loaded the stream). */
export const RUN_START_EVENT = 'stream_initialized';

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** The base session key of an event (see the module comment). */
export function baseSessionKey(e: KeyedEvent): BaseKey {
  if (nonEmpty(e.session_id)) return { base: e.session_id, source: 'session_id', split: false };
  const p =
    e.payload !== null && typeof e.payload === 'object'
      ? (e.payload as Record<string, unknown>).session_id
      : undefined;
  if (nonEmpty(p)) return { base: p, source: 'session_id', split: true };
  return { base: nonEmpty(e.video_id) ? e.video_id : 'unknown', source: 'video_id', split: true };
}

/** The session id of run `runNo` (1-based) of a split base. */
export function runKey(base: string, runNo: number): string {
  return runNo <= 1 ? base : `${base}#${runNo}`;
}

/** Orders sessions as every list shows them: by first event, then by id. */
export function compareSessions(
  a: { first_timestamp: number; session_id: string },
  b: { first_timestamp: number; session_id: string },
): number {
  return (
    a.first_timestamp - b.first_timestamp ||
    (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0)
  );
}
