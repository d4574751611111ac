/**
 * Players send `cid` and `sf` on some reports only. The collector's in-process memory fills
 * them in from earlier reports of the same session it saw itself; reports of a session whose
 * earlier reports went to another instance (or worker, or before a restart) are filled from
 * the store's session summary, so any instance can take any report.
 */
import type { SubmitEvent } from '../events/schema.ts';
import { CMCD_PROTOCOL, isKnownProtocol, isKnownVideo, type SessionSummary } from '../sessions/summary.ts';

/** Finds a session's stored summary (the store's getSession), null when there is none. */
export type SessionLookup = (experimentId: string, sessionId: string) => Promise<SessionSummary | null>;

/** Fills video_id and protocol of events still missing them from their sessions' summaries. */
export async function fillFromStore(getSession: SessionLookup, events: SubmitEvent[]): Promise<void> {
  const looked = new Map<string, Promise<{ video: string | null; protocol: string | null }>>();
  for (const e of events) {
    const sid = e.session_id;
    const missing = !isKnownVideo(e.video_id) || e.protocol === CMCD_PROTOCOL;
    if (!sid || !missing) continue;
    const key = `${e.experiment_id}\u0000${sid}`;
    let known = looked.get(key);
    if (!known) {
      known = getSession(e.experiment_id, sid).then((row) => ({
        video: row && isKnownVideo(row.video_id) ? row.video_id : null,
        protocol: row && isKnownProtocol(row.protocol) ? row.protocol : null,
      }));
      looked.set(key, known);
    }
    const k = await known;
    if (!isKnownVideo(e.video_id) && k.video) e.video_id = k.video;
    if (e.protocol === CMCD_PROTOCOL && k.protocol) e.protocol = k.protocol;
  }
}
