/**
 * How background tasks (the session summariser, QoE caching) log their failures. A store that
 * is unavailable is an operating condition that repeats every few seconds while it lasts: one
 * line with its reason, no stack. Anything else is a bug: logged with its stack.
 */
import type { FastifyBaseLogger } from 'fastify';
import { StoreUnavailableError } from '../errors.ts';

/** Logs `what` failed at warn: one line for an unavailable store, with the stack otherwise. */
export function logBackgroundError(
  log: FastifyBaseLogger | undefined,
  what: string,
  err: unknown,
  fields: Record<string, unknown> = {},
): void {
  if (err instanceof StoreUnavailableError)
    log?.warn({ ...fields, error: err.message }, `${what}: ${err.message}`);
  else log?.warn({ ...fields, err }, what);
}
