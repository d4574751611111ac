/**
 * How an event becomes a row of the embedded store's `events` table: the columns we filter and
 * sort on, the session ingest decided for it, and the whole document as JSON.
 */
import type { EventDoc } from '../../events/schema.ts';
import { newId } from '../object-id.ts';

/** Column values in INSERT_SQL order. */
export type WriterRow = [
  id: string,
  experimentId: string,
  eventId: string | null,
  timestamp: number,
  eventType: string,
  sessionId: string | null,
  videoId: string,
  storedAt: string,
  doc: string,
  sessionKey: string,
  sessionBase: string | null,
];

/** Inserts one row; a duplicate (experiment_id, event_id) changes nothing. */
export const INSERT_SQL = `INSERT INTO events (id, experiment_id, event_id, timestamp, event_type, session_id,
    video_id, stored_at, doc, session_key, session_base)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;

/** Events of one request share one stored_at Date: format it once. */
let lastStoredAt: Date | undefined;
let lastStoredAtIso = '';
function isoOf(d: Date): string {
  if (d !== lastStoredAt) {
    lastStoredAt = d;
    lastStoredAtIso = d.toISOString();
  }
  return lastStoredAtIso;
}

/**
 * The row for one event in session `sessionKey` (`sessionBase`: the fallback key it was split
 * from, null for an explicit session_id); stored_at is a column, not part of the JSON document.
 */
export function toRow(d: EventDoc, sessionKey: string, sessionBase: string | null): WriterRow {
  const { stored_at, ...rest } = d;
  return [
    newId(),
    d.experiment_id,
    d.event_id ?? null,
    d.timestamp,
    d.event_type,
    d.session_id ?? null,
    d.video_id,
    isoOf(stored_at),
    JSON.stringify(rest),
    sessionKey,
    sessionBase,
  ];
}
