/**
 * Turns a validated submission into the document we store, and checks what JSON Schema
 * cannot: reserved and unstorable field names, non-finite numbers anywhere in the event, the
 * event's size and whether its timestamp can be Unix seconds. MongoDB (and FerretDB) refuse
 * keys starting with "$" or containing "."; we refuse them on every store so data moves
 * between stores. The limits are listed in docs/ingest-limits.md.
 */
import { apiError, type ErrorDetail } from '../errors.ts';
import { UNKNOWN_VIDEO } from '../sessions/summary.ts';
import { type EventDoc, RESERVED_FIELDS, type SubmitEvent } from './schema.ts';

const MAX_DEPTH = 32;

const BAD_KEY = /^\$|[.\0]/;

/**
 * Whether a string is valid Unicode: JSON's "\ud800" escape parses to a lone UTF-16 surrogate,
 * which no store keeps (UTF-8 has no encoding for it; it came back as U+FFFD). Native
 * String.prototype.isWellFormed (Node 20; not in the ES2023 lib types).
 */
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();
const LONE_SURROGATE = 'contains a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode';

/** What prepareEvent enforces beyond the schema (from Config: ingest and timestamps). */
export interface EventRules {
  /** Largest event, as characters of its JSON text (approximate: numbers count 8). */
  maxEventBytes: number;
  timestamps: { check: boolean; min: number; maxFutureS: number };
}

/** Findings of one walk over an event. */
interface Walk {
  names: ErrorDetail[];
  /** Values no store keeps: non-finite numbers, strings with lone surrogates. */
  numbers: ErrorDetail[];
  /** Approximate length of the event's JSON text so far. */
  size: number;
  /** Stop counting (and walking) past this size: the event is refused anyway. */
  maxSize: number;
}

/** A scalar's share of the JSON text: strings without their escapes, every number as 8. */
const scalarSize = (v: unknown): number => {
  if (typeof v === 'string') return v.length + 2;
  if (typeof v === 'number') return 8;
  return 5; // true, false, null
};

/**
 * Walks objects and arrays once: bad field names, non-finite numbers (JSON.parse reads 1e400
 * as Infinity) and the approximate JSON size. `parents` is the path so far, turned into a
 * string only when a problem is found (this runs for every submitted event, so it allocates
 * nothing otherwise).
 */
function walk(value: object, parents: string[], w: Walk, depth: number): void {
  if (w.names.length + w.numbers.length >= 10 || w.size > w.maxSize) return;
  if (depth > MAX_DEPTH) {
    w.names.push({ path: pathOf(parents), message: `nested deeper than ${MAX_DEPTH} levels` });
    return;
  }
  if (Array.isArray(value)) {
    w.size += 2;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      w.size += 1;
      if (v !== null && typeof v === 'object') {
        parents.push(String(i));
        walk(v, parents, w, depth + 1);
        parents.pop();
      } else {
        w.size += scalarSize(v);
        if (typeof v === 'number' && !Number.isFinite(v)) nonFinite(w, parents, String(i));
        else if (typeof v === 'string' && !wellFormed(v)) badValue(w, parents, String(i), LONE_SURROGATE);
      }
      if (w.size > w.maxSize) return;
    }
    return;
  }
  w.size += 2;
  for (const k of Object.keys(value)) {
    if (w.names.length + w.numbers.length >= 10 || w.size > w.maxSize) return;
    w.size += k.length + 4;
    if (BAD_KEY.test(k) || !wellFormed(k)) {
      parents.push(k);
      w.names.push({
        path: pathOf(parents),
        message: BAD_KEY.test(k)
          ? 'field names may not start with "$" or contain "." or NUL'
          : `the field name ${LONE_SURROGATE}`,
      });
      parents.pop();
    }
    const v: unknown = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object') {
      parents.push(k);
      walk(v, parents, w, depth + 1);
      parents.pop();
    } else {
      w.size += scalarSize(v);
      if (typeof v === 'number' && !Number.isFinite(v)) nonFinite(w, parents, k);
      else if (typeof v === 'string' && !wellFormed(v)) badValue(w, parents, k, LONE_SURROGATE);
    }
  }
}

function nonFinite(w: Walk, parents: string[], key: string): void {
  badValue(w, parents, key, 'must be a finite number (1e400 is out of range)');
}

function badValue(w: Walk, parents: string[], key: string, message: string): void {
  parents.push(key);
  w.numbers.push({ path: pathOf(parents), message });
  parents.pop();
}

function pathOf(parents: string[]): string {
  return parents.length === 0 ? '' : `/${parents.join('/')}`;
}

function walkEvent(event: Record<string, unknown>, maxSize: number): Walk {
  const w: Walk = { names: [], numbers: [], size: 0, maxSize };
  for (const f of RESERVED_FIELDS) {
    if (f in event)
      w.names.push({ path: `/${f}`, message: `"${f}" is set by the server and may not be sent` });
  }
  walk(event, [], w, 0);
  return w;
}

/** Problems with field names in an event, as details for a 400 (empty when fine). */
export function fieldNameProblems(event: Record<string, unknown>): ErrorDetail[] {
  return walkEvent(event, Number.POSITIVE_INFINITY).names;
}

const ISO = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Why `ts` (Unix seconds) cannot be a player's clock, or undefined when it can. `unit` is how
 * the client sent it ("s" for `timestamp`, "ms" for CMCD `ts`), for the advice.
 */
export function timestampProblem(
  ts: number,
  rules: EventRules['timestamps'],
  nowS: number,
  unit: { field: string; perSecond: 1 | 1000 } = { field: 'timestamp', perSecond: 1 },
): string | undefined {
  if (!rules.check) return undefined;
  const latest = nowS + rules.maxFutureS;
  const sent = ts * unit.perSecond;
  const expected = unit.perSecond === 1 ? 'Unix time in seconds' : 'Unix time in milliseconds';
  if (ts > latest) {
    // Sent in a unit 1000, 10^6 or 10^9 times too fine (Date.now() for Date.now() / 1000)?
    const finer = ['milliseconds', 'microseconds', 'nanoseconds', 'picoseconds'];
    const own = unit.perSecond === 1 ? 0 : 1;
    for (let i = 0; i < 3; i++) {
      const factor = 1000 ** (i + 1);
      const scaled = ts / factor;
      if (scaled >= rules.min && scaled <= latest) {
        return `${unit.field} ${sent} looks like ${finer[i + own]}: divide by ${factor} (${expected} expected)`;
      }
    }
    return (
      `${unit.field} ${sent} is ${ISO(Math.min(ts, 8.64e12))} or later, more than ${rules.maxFutureS} s ahead of ` +
      `the server clock (TIMESTAMP_MAX_FUTURE_S); send ${expected}`
    );
  }
  if (ts < rules.min) {
    if (unit.perSecond === 1000 && ts * 1000 >= rules.min && ts * 1000 <= latest) {
      return `${unit.field} ${sent} looks like seconds: multiply by 1000 (${expected} expected)`;
    }
    return (
      `${unit.field} ${sent} is before ${ISO(rules.min)} (TIMESTAMP_MIN): send ${expected}, not time since ` +
      'the start of playback; to replay older data start the server with TIMESTAMP_CHECK=off'
    );
  }
  return undefined;
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
    video_id: video_id ?? UNKNOWN_VIDEO,
    payload,
    ...extra,
    stored_at: storedAt,
  };
}

/**
 * Checks an event (one walk: names, numbers, size; then its timestamp) and builds the
 * document. Throws a 413 EVENT_TOO_LARGE or a 400 ApiError naming the field.
 */
export function prepareEvent(
  event: SubmitEvent,
  storedAt: Date,
  rules: EventRules,
  unit?: { field: string; perSecond: 1 | 1000 },
): EventDoc {
  const w = walkEvent(event, rules.maxEventBytes);
  if (w.size > rules.maxEventBytes) {
    const which = [`event_type ${JSON.stringify(String(event.event_type).slice(0, 128))}`];
    if (typeof event.event_id === 'string')
      which.push(`event_id ${JSON.stringify(event.event_id.slice(0, 128))}`);
    throw apiError(
      'EVENT_TOO_LARGE',
      `The event (${which.join(', ')}) is over ${rules.maxEventBytes} bytes of JSON (INGEST_MAX_EVENT_BYTES); ` +
        'split large payloads or leave out bulky fields',
    );
  }
  if (w.names.length > 0) {
    throw apiError('INVALID_FIELD_NAME', 'The event has field names that cannot be stored', {
      details: w.names,
    });
  }
  if (w.numbers.length > 0) {
    const summary = w.numbers.map((d) => `${d.path}: ${d.message}`).join('; ');
    throw apiError('VALIDATION_FAILED', `The event has values that cannot be stored: ${summary}`, {
      details: w.numbers,
    });
  }
  const problem = timestampProblem(event.timestamp, rules.timestamps, storedAt.getTime() / 1000, unit);
  if (problem !== undefined) {
    throw apiError('IMPLAUSIBLE_TIMESTAMP', problem, {
      details: [{ path: '/timestamp', message: problem }],
    });
  }
  return toEventDoc(event, storedAt);
}

/** The rules prepareEvent applies, from the server's config. */
export function eventRulesOf(config: {
  ingest: { maxEventBytes: number };
  timestamps: EventRules['timestamps'];
}): EventRules {
  return { maxEventBytes: config.ingest.maxEventBytes, timestamps: config.timestamps };
}
