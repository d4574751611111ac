/**
 * The flat, fixed column set that CSV and Parquet exports share. Payloads differ per event
 * type, so instead of one column per payload key (unknown until the whole experiment is read,
 * which a streamed export cannot wait for) the payload is one JSON-text column, and any
 * extra top-level fields a sender added are another.
 */
import type { StoredEvent } from '../events/schema.ts';

export const COLUMNS = [
  '_id',
  'experiment_id',
  'timestamp',
  'event_type',
  'protocol',
  'video_id',
  'session_id',
  'session_key',
  'event_id',
  'stored_at',
  'payload',
  'extra',
] as const;

export type Column = (typeof COLUMNS)[number];

export interface FlatRow {
  _id: string;
  experiment_id: string;
  timestamp: number;
  event_type: string;
  protocol: string;
  video_id: string;
  /** The event's own top-level session_id (null when it has none; see docs for the fallback). */
  session_id: string | null;
  /** The session the server put the event in (src/sessions/key.ts). */
  session_key: string | null;
  event_id: string | null;
  stored_at: string;
  /** payload as JSON text. */
  payload: string;
  /** Other top-level fields as a JSON object text, or null when there are none. */
  extra: string | null;
}

export function flatten(e: StoredEvent): FlatRow {
  const {
    _id,
    experiment_id,
    timestamp,
    event_type,
    protocol,
    video_id,
    session_id,
    session_key,
    event_id,
    stored_at,
    payload,
    ...rest
  } = e;
  return {
    _id,
    experiment_id,
    timestamp,
    event_type,
    protocol,
    video_id,
    session_id: session_id ?? null,
    session_key: typeof session_key === 'string' ? session_key : null,
    event_id: event_id ?? null,
    stored_at,
    payload: JSON.stringify(payload ?? {}),
    extra: Object.keys(rest).length > 0 ? JSON.stringify(rest) : null,
  };
}

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF; null is an empty field. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const CSV_HEADER = `${COLUMNS.join(',')}\r\n`;

/** CSV lines (CRLF-terminated, as RFC 4180 says) for a batch of events. */
export function csvLines(events: readonly StoredEvent[]): string {
  let out = '';
  for (const e of events) {
    const r = flatten(e);
    out += `${COLUMNS.map((c) => csvField(r[c])).join(',')}\r\n`;
  }
  return out;
}
