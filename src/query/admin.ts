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

/**
 * A check of `Authorization: Bearer <token>` against `token` (the admin and metrics tokens):
 * digests are compared, so equal length and constant time, whatever the caller sent.
 */
export function bearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return m?.[1] !== undefined && timingSafeEqual(digest(m[1]), expected);
  };
}

/** A preHandler hook enforcing the admin rules of `config`. */
export function requireAdmin(config: Readonly<Config>) {
  const matches = config.adminToken === undefined ? undefined : bearerCheck(config.adminToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (!matches) {
      if (config.allowUnauthenticatedAdmin) return;
      throw apiError(
        'FORBIDDEN',
        'Admin operations are disabled: set ADMIN_TOKEN (or ALLOW_UNAUTHENTICATED_ADMIN=true) on the server',
      );
    }
    if (!matches(request.headers.authorization)) throw apiError('UNAUTHORIZED');
  };
}
