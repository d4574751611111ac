/**
 * The admin guard for destructive routes: with ADMIN_TOKEN set, `Authorization: Bearer <token>`
 * is required (401 otherwise); without one, the routes are refused (403) unless the operator
 * set ALLOW_UNAUTHENTICATED_ADMIN=true.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { apiError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A preHandler hook enforcing the admin rules of `config`. */
export function requireAdmin(config: Readonly<Config>) {
  const expected = config.adminToken === undefined ? undefined : digest(config.adminToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (!expected) {
      if (config.allowUnauthenticatedAdmin) return;
      throw apiError(
        'FORBIDDEN',
        'Admin operations are disabled: set ADMIN_TOKEN (or ALLOW_UNAUTHENTICATED_ADMIN=true) on the server',
      );
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    // Compare digests: equal length, constant time, whatever the caller sent.
    if (!m?.[1] || !timingSafeEqual(digest(m[1]), expected)) throw apiError('UNAUTHORIZED');
  };
}
