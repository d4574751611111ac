/**
 * A batch body checked event by event with the same schema and rules as POST /api/submit:
 * valid events become documents to store, invalid ones are reported by index and reason.
 */
import type { ErrorObject } from 'ajv';
import { type ApiError, apiError, type ErrorCode, type ErrorDetail } from '../errors.ts';
import { type EventRules, prepareEvent } from '../events/normalize.ts';
import { type EventDoc, SubmitEvent } from '../events/schema.ts';
import { BadLine, NdjsonBody } from '../http/body.ts';
import { compileBodyValidator } from '../http/validation.ts';

const validate = compileBodyValidator(SubmitEvent);

export interface Rejected {
  index: number;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

export interface CheckedBatch {
  docs: EventDoc[];
  /** The batch index of each doc. */
  positions: number[];
  rejected: Rejected[];
}

/** The events of a batch body (array, {"events": [...]}, NDJSON); a 400/413 when it is not one. */
export function batchItems(body: unknown, maxEvents: number): unknown[] {
  let items: unknown[] | undefined;
  if (body instanceof NdjsonBody) items = body.items;
  else if (Array.isArray(body)) items = body;
  else if (body && typeof body === 'object' && Array.isArray((body as { events?: unknown }).events)) {
    items = (body as { events: unknown[] }).events;
  }
  if (!items) throw apiError('NOT_A_BATCH');
  if (items.length > maxEvents) {
    throw apiError(
      'TOO_MANY_EVENTS',
      `The batch holds ${items.length} events; this server accepts at most ${maxEvents} per request`,
    );
  }
  return items;
}

function schemaProblem(errors: ErrorObject[]): { code: ErrorCode; message: string; details: ErrorDetail[] } {
  const details = errors.map((e) => {
    const missing = e.keyword === 'required' ? `/${String(e.params.missingProperty)}` : '';
    return { path: `${e.instancePath}${missing}` || '/', message: e.message ?? e.keyword };
  });
  const badId = errors.some((e) => e.instancePath === '/experiment_id' && e.keyword === 'pattern');
  const code: ErrorCode = badId ? 'INVALID_EXPERIMENT_ID' : 'VALIDATION_FAILED';
  return { code, message: details.map((d) => `${d.path}: ${d.message}`).join('; '), details };
}

/** Validates every event; never throws for a bad event. */
export function checkBatch(items: readonly unknown[], storedAt: Date, rules: EventRules): CheckedBatch {
  const out: CheckedBatch = { docs: [], positions: [], rejected: [] };
  items.forEach((item, index) => {
    if (item instanceof BadLine) {
      out.rejected.push({ index, code: 'INVALID_JSON', message: item.message });
      return;
    }
    if (!validate(item)) {
      out.rejected.push({ index, ...schemaProblem(validate.errors ?? []) });
      return;
    }
    try {
      out.docs.push(prepareEvent(item as SubmitEvent, storedAt, rules));
      out.positions.push(index);
    } catch (err) {
      const e = err as ApiError;
      out.rejected.push({
        index,
        code: e.code,
        message: e.message,
        ...(e.details ? { details: e.details } : {}),
      });
    }
  });
  return out;
}
