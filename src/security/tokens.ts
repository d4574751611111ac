/**
 * The admin guard for destructive routes: with ADMIN_TOKEN set, `Authorization: Bearer <token>`
 * is required (401 otherwise); without one, the routes are refused (403) unless the operator
 * set ALLOW_UNAUTHENTICATED_ADMIN=true. Also the one constant-time secret comparison every
 * other credential check (ingest keys, read token) uses.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { apiError } from '../errors.ts';

/** The SHA-256 of a secret: what the server keeps to compare against. */
export const secretDigest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Whether `given` is the secret behind `expected` (a secretDigest). Comparing digests keeps
 * the lengths equal and the time constant, whatever the caller sent.
 */
export function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(secretDigest(given), expected);
}

/** The token of an `Authorization: Bearer <token>` header, if that is what was sent. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/**
 * A check of `Authorization: Bearer <token>` against `token` (the admin and metrics tokens),
 * in constant time.
 */
export function bearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = secretDigest(token);
  return (authorization) => {
    const given = bearerToken(authorization);
    return given !== undefined && sameSecret(given, expected);
  };
}

/** A preHandler hook enforcing the admin rules of `config`. */
export function requireAdmin(config: Readonly<Config>) {
  const expected = config.adminToken === undefined ? undefined : secretDigest(config.adminToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (!expected) {
      if (config.allowUnauthenticatedAdmin) return;
      throw apiError(
        'FORBIDDEN',
        'Admin operations are disabled: set ADMIN_TOKEN (or ALLOW_UNAUTHENTICATED_ADMIN=true) on the server',
      );
    }
    const token = bearerToken(request.headers.authorization);
    if (!token || !sameSecret(token, expected)) throw apiError('UNAUTHORIZED');
  };
}
