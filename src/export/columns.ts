/**
 * The one export column list and the one CSV / NDJSON writer: the API (GET /api/metrics, and
 * so the dashboard's download buttons) and the CLI export all write through this module.
 *
 * Payloads differ per event type, so instead of one column per payload key (unknown until the
 * whole experiment is read, which a streamed export cannot wait for) the payload is one
 * JSON-text column, and any extra top-level fields a sender added are another. Parquet adds
 * typed copies of the common payload fields (PAYLOAD_COLUMNS) beside them.
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

/** Parquet types of COLUMNS (the one list; Parquet adds PAYLOAD_COLUMNS after it). */
export const COLUMN_TYPES: Record<Column, { type: 'STRING' | 'DOUBLE' | 'TIMESTAMP'; nullable: boolean }> = {
  _id: { type: 'STRING', nullable: false },
  experiment_id: { type: 'STRING', nullable: false },
  timestamp: { type: 'DOUBLE', nullable: false },
  event_type: { type: 'STRING', nullable: false },
  protocol: { type: 'STRING', nullable: false },
  video_id: { type: 'STRING', nullable: false },
  session_id: { type: 'STRING', nullable: true },
  session_key: { type: 'STRING', nullable: true },
  event_id: { type: 'STRING', nullable: true },
  stored_at: { type: 'TIMESTAMP', nullable: false },
  payload: { type: 'STRING', nullable: false },
  extra: { type: 'STRING', nullable: true },
};

/**
 * Payload fields that Parquet also gets as typed, nullable columns (named `payload.<key>`),
 * so pandas, polars and DuckDB can plot them without parsing the JSON text. Values are copied
 * as sent, in the sender's units (see docs/events.md): reporter/testbed fields in seconds and
 * bits per second, CMCD keys in CMCD units (ms, kbps). A value of another type is null there
 * (it stays in `payload`).
 */
export const PAYLOAD_COLUMNS: ReadonlyArray<{ key: string; type: 'DOUBLE' | 'STRING' }> = [
  // Reporter / testbed events
  { key: 'media_type', type: 'STRING' },
  { key: 'buffer_level', type: 'DOUBLE' },
  { key: 'bitrate', type: 'DOUBLE' },
  { key: 'current_bitrate', type: 'DOUBLE' },
  { key: 'quality', type: 'DOUBLE' },
  { key: 'width', type: 'DOUBLE' },
  { key: 'height', type: 'DOUBLE' },
  { key: 'playback_rate', type: 'DOUBLE' },
  { key: 'current_time', type: 'DOUBLE' },
  { key: 'live_latency', type: 'DOUBLE' },
  { key: 'throughput_bps', type: 'DOUBLE' },
  { key: 'dropped_frames', type: 'DOUBLE' },
  { key: 'startup_time_ms', type: 'DOUBLE' },
  { key: 'duration_ms', type: 'DOUBLE' },
  { key: 'new_state', type: 'STRING' },
  // CMCD keys (ms, kbps)
  { key: 'sta', type: 'STRING' },
  { key: 'bl', type: 'DOUBLE' },
  { key: 'br', type: 'DOUBLE' },
  { key: 'pb', type: 'DOUBLE' },
  { key: 'mtp', type: 'DOUBLE' },
  { key: 'pr', type: 'DOUBLE' },
  { key: 'pt', type: 'DOUBLE' },
  { key: 'ltc', type: 'DOUBLE' },
  { key: 'dfa', type: 'DOUBLE' },
  { key: 'bsd', type: 'DOUBLE' },
  { key: 'msd', type: 'DOUBLE' },
];

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

/** The typed payload columns of one event (null where a field is absent or of another type). */
export function payloadColumns(payload: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, type } of PAYLOAD_COLUMNS) {
    const v = payload?.[key];
    out[`payload.${key}`] =
      type === 'DOUBLE'
        ? typeof v === 'number' && Number.isFinite(v)
          ? v
          : null
        : typeof v === 'string'
          ? v
          : null;
  }
  return out;
}

export interface CsvOptions {
  /**
   * Write text cells exactly as stored. By default a text cell that a spreadsheet would read
   * as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` (the OWASP
   * rule); numbers are never changed, so -1.5 in a numeric column stays -1.5.
   */
  raw?: boolean;
}

/** Leading characters that make Excel, LibreOffice and Google Sheets evaluate a cell. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One RFC 4180 field: quoted when it holds a comma, quote, CR or LF; null is an empty field.
 * Text that would start a formula is prefixed with `'` unless raw (see CsvOptions).
 */
export function csvField(v: string | number | null, opts: CsvOptions = {}): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  const s = !opts.raw && FORMULA_START.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const CSV_HEADER = `${COLUMNS.join(',')}\r\n`;

/** One CSV line (CRLF-terminated, as RFC 4180 says) for one event. */
export function csvLine(e: StoredEvent, opts: CsvOptions = {}): string {
  const r = flatten(e);
  return `${COLUMNS.map((c) => csvField(r[c], opts)).join(',')}\r\n`;
}

/** CSV lines for a batch of events. */
export function csvLines(events: readonly StoredEvent[], opts: CsvOptions = {}): string {
  let out = '';
  for (const e of events) out += csvLine(e, opts);
  return out;
}

/** One NDJSON line for an event already held as JSON text. */
export const ndjsonLine = (json: string): string => `${json}\n`;

/** Text chunks stop growing at about this size: a few fat events never make one huge string. */
export const CHUNK_CHARS = 1 << 20;

/**
 * Joins per-event lines into chunks of about CHUNK_CHARS (one event larger than that is its
 * own chunk), so memory per chunk is bounded by the largest event, not by the batch size.
 */
export function* chunked<T>(items: Iterable<T>, line: (item: T) => string): Generator<string> {
  let s = '';
  for (const item of items) {
    const l = line(item);
    if (s.length > 0 && s.length + l.length > CHUNK_CHARS) {
      yield s;
      s = '';
    }
    s += l;
  }
  if (s.length > 0) yield s;
}
