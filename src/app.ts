/**
 * buildApp(config): the whole HTTP application, not listening. The process (server.ts) and
 * the tests both build it from a Config; nothing here reads the environment.
 */
import { randomUUID } from 'node:crypto';
import querystring from 'node:querystring';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import cmcdRoutes from './cmcd/routes.ts';
import type { Config } from './config/index.ts';
import probeRoutes from './health/probes.ts';
import healthRoutes from './health/routes.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { registerFairShare } from './http/fair-share.ts';
import { MAX_PARAM_LENGTH, registerLimits, serverOptions } from './http/limits.ts';
import { completeOpenapi } from './http/openapi.ts';
import { validatorCompiler } from './http/validation.ts';
import ingestPlugin from './ingest/plugin.ts';
import submitRoutes from './ingest/routes.ts';
import metricsPlugin from './metrics/plugin.ts';
import experimentsRoutes from './query/experiments.ts';
import metricsRoutes from './query/metrics.ts';
import qoeRoutes from './query/qoe.ts';
import sdkRoutes from './sdk/route.ts';
import { redactUrl, registerAccess } from './security/access.ts';
import sessionsPlugin from './session-qoe/plugin.ts';
import { createStore } from './store/index.ts';
import storePlugin from './store/plugin.ts';
import type { EventStore } from './store/types.ts';
import webRoutes from './web/route.ts';

export interface BuildOptions {
  /** Use this store instead of the one config names; the caller then closes it. */
  store?: EventStore;
  /** Extra pino options (tests pass a stream to read logs). */
  logger?: Record<string, unknown>;
  /** Directory of the built dashboard (default dist/ui; tests build their own). */
  webDir?: string;
}

/**
 * Browsers resolve "." and ".." path segments, even spelled %2E, so the dashboard sends a
 * dot-only experiment id with its percent sign escaped (%252E per dot); turn such a segment
 * back into %2E, which the router decodes to ".". Only whole dot segments: nothing else changes.
 */
const ESCAPED_DOTS = /\/((?:%252[eE]){1,2})(?=[/?]|$)/g;
export function rewriteDotSegments(url: string): string {
  return url.includes('%252')
    ? url.replace(ESCAPED_DOTS, (_m, dots: string) => `/${dots.replaceAll(/%252[eE]/g, '%2E')}`)
    : url;
}

/** A hop count as proxy-addr's trust function (Fastify's types name no number form). */
function trustProxyOption(
  t: Config['security']['trustProxy'],
): boolean | string[] | ((a: string, hop: number) => boolean) {
  return typeof t === 'number' ? (_address, hop) => hop < t : t;
}

export const VERSION = '0.1.0';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export async function buildApp(config: Readonly<Config>, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...serverOptions(config),
    // The client IP (rate limits, logs) behind a reverse proxy: only when the operator says so.
    trustProxy: trustProxyOption(config.security.trustProxy),
    bodyLimit: config.bodyLimit,
    logger: {
      level: config.logLevel,
      // Never log credentials or bodies: pino's default serializers log neither bodies nor
      // headers; redact the headers that could carry a token if a serializer changes, and
      // the ingest key / read token a beacon may carry in its URL.
      redact: ['req.headers.authorization', 'req.headers["x-ingest-key"]', 'req.headers["x-read-token"]'],
      serializers: {
        req: (req: {
          method: string;
          url: string;
          host?: string;
          ip?: string;
          socket?: { remotePort?: number };
        }) => ({
          method: req.method,
          url: redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      // Readable lines on a terminal, JSON for log collectors (LOG_FORMAT overrides).
      ...((config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY)) && {
        transport: {
          target: 'pino-pretty',
          options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
        },
      }),
      ...opts.logger,
    },
    // Honour a caller's X-Request-Id when it looks like one; otherwise make our own.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // A dot-only id (".", "..") arrives as %252E from the dashboard: see rewriteDotSegments.
    rewriteUrl: (req) => rewriteDotSegments(req.url ?? '/'),
    routerOptions: {
      // Ids are up to 128 characters, each may arrive %-escaped (the default 100 gave 414).
      maxParamLength: MAX_PARAM_LENGTH,
      // `?start_time=` (an empty form field) means "no bound", not 0: drop empty values.
      querystringParser: (str) => {
        const parsed = querystring.parse(str);
        for (const k of Object.keys(parsed)) if (parsed[k] === '') delete parsed[k];
        return parsed;
      },
    },
    // Fastify's 503 while closing is a body outside the documented error shape; instead a
    // request on a connection still open during shutdown is served (the store closes only
    // after every connection has ended), and SHUTDOWN_GRACE_MS bounds how long that lasts.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);
  app.setValidatorCompiler(validatorCompiler);
  registerErrorHandling(app);
  registerFairShare(app, config);
  registerLimits(app, config);
  await registerAccess(app, config);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(cors, {
    origin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: [
      'Content-Type',
      'Content-Encoding',
      'Authorization',
      'X-Request-Id',
      'X-Ingest-Key',
      'X-Read-Token',
      // CMCD request-mode data (CTA-5004) sent cross-origin by players.
      'CMCD-Request',
      'CMCD-Object',
      'CMCD-Status',
      'CMCD-Session',
    ],
    exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-Next-Cursor'],
    maxAge: 86400,
    // An OPTIONS without preflight headers gets 204 rather than a plain-text 400 outside the
    // documented error shape.
    strictPreflight: false,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'stats-server',
        version: VERSION,
        description: 'Video-player playback telemetry collector',
      },
    },
    transformObject: (doc) =>
      'openapiObject' in doc
        ? (completeOpenapi(doc.openapiObject as Record<string, unknown>) as object)
        : doc.swaggerObject,
  });
  // The browsable reference, served from the package's own files (no CDN: works offline).
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { validatorUrl: null } });

  await app.register(storePlugin, { store: opts.store ?? createStore(config), ownsStore: !opts.store });
  await app.register(ingestPlugin);
  await app.register(sessionsPlugin);
  await app.register(metricsPlugin);
  await app.register(probeRoutes);

  await app.register(
    async (api) => {
      await api.register(healthRoutes);
      await api.register(submitRoutes);
      await api.register(metricsRoutes);
      await api.register(experimentsRoutes);
      await api.register(qoeRoutes);
      await api.register(cmcdRoutes);
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api' },
  );
  await app.register(sdkRoutes, { prefix: '/sdk' });
  await app.register(webRoutes, { dir: opts.webDir });

  return app;
}
