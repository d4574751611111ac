/**
 * How an event becomes a row of the embedded store's `events` table: the columns we filter and
 * sort on, the session ingest decided for it, and the whole document as JSON.
 *
 * Rows are made on the thread that serves HTTP, not on the writer thread: the writer is the
 * bottleneck of batch ingest, and a row of strings crosses to it more cheaply than an event
 * object does (BENCHMARKS.md, "Ingest against the previous landing").
 */
import type { EventDoc } from '../../events/schema.ts';
import { baseSessionKey, type SessionSource } from '../../sessions/key.ts';
import { RunRole as Role, type RunRole, runRoleOf } from '../../sessions/runs.ts';
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
  /** The session; null until the writer places a split base's event in its run. */
  sessionKey: string | null,
  /** The fallback key this event's runs are split from; null for an explicit session id. */
  sessionBase: string | null,
];

/** A group of events as the writer thread takes them: rows, and what the session rules read. */
export interface PreparedRows {
  rows: WriterRow[];
  /** Each event's protocol (summaries keep the earliest known one). */
  protocols: string[];
  /** How each event's session was keyed. */
  sources: SessionSource[];
  /** What each event of a split base means to its runs (src/sessions/runs.ts). */
  roles: RunRole[];
}

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

/** Rows made ahead of their write (SqliteStore.prepare), found again by their event. */
const made = new WeakMap<EventDoc, ReturnType<typeof rowOf>>();

/** One event's row, with its base session key decided (key.ts). */
function rowOf(d: EventDoc): { row: WriterRow; protocol: string; source: SessionSource; role: RunRole } {
  const bk = baseSessionKey(d);
  // The document without stored_at (a column): JSON.stringify leaves out undefined values, and
  // setting the field back keeps the object's shape; a {...rest} copy per event was garbage
  // the HTTP thread then had to collect.
  const storedAt = d.stored_at;
  const mutable = d as { stored_at: Date | undefined };
  mutable.stored_at = undefined;
  let doc: string;
  try {
    doc = JSON.stringify(d);
  } finally {
    mutable.stored_at = storedAt;
  }
  return {
    row: [
      newId(),
      d.experiment_id,
      d.event_id ?? null,
      d.timestamp,
      d.event_type,
      d.session_id ?? null,
      d.video_id,
      isoOf(storedAt),
      doc,
      bk.split ? null : bk.base,
      bk.split ? bk.base : null,
    ],
    protocol: String(d.protocol),
    source: bk.source,
    role: bk.split ? runRoleOf(d) : Role.other,
  };
}

/** Makes the rows of events that will be inserted soon (the documents must not change). */
export function prepareAhead(docs: readonly EventDoc[]): void {
  for (const d of docs) if (!made.has(d)) made.set(d, rowOf(d));
}

/** The rows of a group of events: made ahead, or now. */
export function prepareRows(docs: readonly EventDoc[]): PreparedRows {
  const out: PreparedRows = { rows: [], protocols: [], sources: [], roles: [] };
  for (const d of docs) {
    const r = made.get(d) ?? rowOf(d);
    made.delete(d);
    out.rows.push(r.row);
    out.protocols.push(r.protocol);
    out.sources.push(r.source);
    out.roles.push(r.role);
  }
  return out;
}
