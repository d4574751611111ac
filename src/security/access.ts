/**
 * Access control. The default "open" profile adds nothing here (a lab LAN drop-in: players post
 * without credentials, and the ingest hot path pays for no hook). SECURITY_PROFILE=public adds,
 * per route as it is registered: a per-IP rate limit, the Origin allow-list, ingest keys on the
 * ingest routes (with a per-key rate limit), and the read token on every data route. Health,
 * the dashboard shell, the SDK bundles and the OpenAPI document stay open (they hold no data).
 * Rules and defaults: docs/security.md.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import type { Config } from '../config/index.ts';
import { apiError } from '../errors.ts';
import { bearerToken, sameSecret, secretDigest } from './tokens.ts';

type Access = 'open' | 'health' | 'ingest' | 'read' | 'admin';

/** What a route needs, from its full path (prefix included) and method. */
export function accessOf(url: string, method: string): Access {
  if (url === '/api/health') return 'health';
  if (
    url === '/api/submit' ||
    url.startsWith('/api/submit/') ||
    url === '/api/cmcd' ||
    url.startsWith('/api/cmcd/')
  )
    return 'ingest';
  if (method === 'DELETE') return 'admin';
  if (method === 'OPTIONS') return 'open';
  if (url.startsWith('/api/') && url !== '/api/openapi.json') return 'read';
  return 'open';
}

/** URL query parameters that carry credentials (for clients that cannot set headers). */
export const INGEST_KEY_PARAM = 'key';
export const READ_TOKEN_PARAM = 'token';

const SECRET_PARAMS = new Set([INGEST_KEY_PARAM, READ_TOKEN_PARAM]);

/** A query parameter's name as the query parser reads it (`%6Bey`, `k%65y` and `+` decoded). */
function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' ')).trim().toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * A URL fit for logs: the value of every query parameter that names a credential, however its
 * name is spelled (`key=`, `%6Bey=`, `KEY=`), replaced. Most URLs have no `%`, `key` or `token`
 * in their query and are returned as they are.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1);
  if (!/key|token|%|\+/i.test(query)) return url;
  const parts = query.split(/([&;])/);
  let changed = false;
  for (let i = 0; i < parts.length; i += 2) {
    const part = parts[i] ?? '';
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (eq >= 0 && SECRET_PARAMS.has(paramName(name))) {
      parts[i] = `${name}=[redacted]`;
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q + 1)}${parts.join('')}` : url;
}

/**
 * Whether `origin` is this server as the client reached it: the same scheme (the request's,
 * X-Forwarded-Proto only from a trusted proxy), host and port (default ports normalised by
 * URL). The dashboard's own requests are not cross-origin; `gopher://host` or
 * `https://host:other-port` are.
 */
export function sameOrigin(origin: string, protocol: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const o = new URL(origin);
    const self = new URL(`${protocol}://${host}`);
    return o.origin !== 'null' && o.origin === self.origin;
  } catch {
    return false;
  }
}

function queryParam(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export async function registerAccess(app: FastifyInstance, config: Readonly<Config>): Promise<void> {
  const sec = config.security;
  if (sec.headers) {
    await app.register(helmet, {
      // API replies are data, never documents: nothing may load or frame them. The dashboard
      // page sets its own policy (src/web/route.ts), which replaces this one.
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
      },
      // Player pages on other origins load /sdk/reporter.js with a script tag.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
    });
  }
  if (sec.profile !== 'public') return;

  await app.register(rateLimit, { global: false, timeWindow: sec.rateLimitWindowMs });
  const limiter = (max: number, keyGenerator?: (r: FastifyRequest) => string) =>
    max > 0
      ? app.createRateLimit({
          max,
          timeWindow: sec.rateLimitWindowMs,
          ...(keyGenerator ? { keyGenerator } : {}),
        })
      : undefined;
  const check = async (limit: ReturnType<typeof limiter>, request: FastifyRequest, what: string) => {
    if (!limit) return;
    const r = await limit(request);
    if (!r.isAllowed && r.isExceeded) {
      throw apiError('RATE_LIMITED', `Too many requests from this ${what}; retry in ${r.ttlInSeconds} s`, {
        retryAfter: r.ttlInSeconds,
      });
    }
  };

  const keyIds = new WeakMap<FastifyRequest, string>();
  const ipLimit = limiter(sec.rateLimitPerIp);
  const keyLimit = limiter(sec.rateLimitPerKey, (r) => `ingest-key:${keyIds.get(r)}`);
  const ingestDigests = sec.ingestKeys.map(secretDigest);
  const readDigests = [sec.readToken, config.adminToken].filter((t) => t !== undefined).map(secretDigest);
  const origins = new Set(config.corsOrigins === '*' ? [] : config.corsOrigins);

  const originAllowed = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined || origins.has(origin)) return true;
    return sameOrigin(origin, request.protocol, request.headers.host);
  };

  const perIp: onRequestHookHandler = async (request) => {
    if (!originAllowed(request)) throw apiError('ORIGIN_NOT_ALLOWED');
    await check(ipLimit, request, 'client');
  };

  const ingest: onRequestHookHandler = async (request) => {
    const given =
      header(request, 'x-ingest-key') ??
      bearerToken(request.headers.authorization) ??
      queryParam(request, INGEST_KEY_PARAM);
    const i = given === undefined ? -1 : ingestDigests.findIndex((d) => sameSecret(given, d));
    if (i < 0)
      throw apiError('INGEST_KEY_REQUIRED', given === undefined ? undefined : 'The ingest key is not valid');
    keyIds.set(request, String(i));
    await check(keyLimit, request, 'ingest key');
  };

  const read: onRequestHookHandler = async (request) => {
    const given =
      bearerToken(request.headers.authorization) ??
      header(request, 'x-read-token') ??
      queryParam(request, READ_TOKEN_PARAM);
    if (given === undefined || !readDigests.some((d) => sameSecret(given, d))) {
      throw apiError('READ_TOKEN_REQUIRED', given === undefined ? undefined : 'The read token is not valid');
    }
  };

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = accessOf(route.url, methods.includes('DELETE') ? 'DELETE' : String(methods[0]));
    if (access === 'health') return;
    const hooks: onRequestHookHandler[] = [perIp];
    if (access === 'ingest') hooks.push(ingest);
    if (access === 'read') hooks.push(read);
    const existing = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [...hooks, ...existing] as RouteOptions['onRequest'];
  });
}
