/**
 * Turns a validated submission into the document we store, and checks what JSON Schema
 * cannot: reserved and unstorable field names. MongoDB (and FerretDB) refuse keys starting
 * with "$" or containing "."; we refuse them on every store so data moves between stores.
 */
import { apiError, type ErrorDetail } from '../errors.ts';
import { type EventDoc, RESERVED_FIELDS, type SubmitEvent } from './schema.ts';

const MAX_DEPTH = 32;

const BAD_KEY = /^\$|[.\0]/;

/**
 * Walks objects and arrays; `parents` is the path so far, turned into a string only when a
 * problem is found (this runs for every submitted event, so it allocates nothing otherwise).
 */
function badKeys(value: object, parents: string[], out: ErrorDetail[], depth: number): void {
  if (out.length >= 10) return;
  if (depth > MAX_DEPTH) {
    out.push({ path: pathOf(parents), message: `nested deeper than ${MAX_DEPTH} levels` });
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v === null || typeof v !== 'object') continue;
      parents.push(String(i));
      badKeys(v, parents, out, depth + 1);
      parents.pop();
    }
    return;
  }
  for (const k of Object.keys(value)) {
    if (out.length >= 10) return;
    parents.push(k);
    if (BAD_KEY.test(k)) {
      out.push({
        path: pathOf(parents),
        message: 'field names may not start with "$" or contain "." or NUL',
      });
    }
    const v: unknown = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object') badKeys(v, parents, out, depth + 1);
    parents.pop();
  }
}

function pathOf(parents: string[]): string {
  return parents.length === 0 ? '' : `/${parents.join('/')}`;
}

/** Problems with field names in an event, as details for a 400 (empty when fine). */
export function fieldNameProblems(event: Record<string, unknown>): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const f of RESERVED_FIELDS) {
    if (f in event) out.push({ path: `/${f}`, message: `"${f}" is set by the server and may not be sent` });
  }
  badKeys(event, [], out, 0);
  return out;
}

/**
 * Builds the stored document: the Flask server's fields first (experiment_id, timestamp,
 * event_type, protocol, video_id, payload, so documents read naturally in mongosh), then any
 * extra top-level fields, then stored_at.
 */
export function toEventDoc(event: SubmitEvent, storedAt: Date): EventDoc {
  const { experiment_id, timestamp, event_type, protocol, video_id, payload, ...extra } = event;
  return {
    experiment_id,
    timestamp,
    event_type,
    protocol,
    video_id: video_id ?? 'unknown',
    payload,
    ...extra,
    stored_at: storedAt,
  };
}

/** Validates field names and builds the document, throwing a 400 ApiError on bad names. */
export function prepareEvent(event: SubmitEvent, storedAt: Date): EventDoc {
  const problems = fieldNameProblems(event);
  if (problems.length > 0) {
    throw apiError('INVALID_FIELD_NAME', 'The event has field names that cannot be stored', {
      details: problems,
    });
  }
  return toEventDoc(event, storedAt);
}
