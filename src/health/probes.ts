/**
 * Probes for orchestrators and load balancers, beside the testbed's /api/health:
 * GET /livez: the process is up and its event loop answers (no store call), for restarts;
 * GET /readyz: the store is reachable and writable and the server is not shutting down, for
 * taking traffic; otherwise 503 in the error shape (code NOT_READY) with Retry-After.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';

const Live = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({
  status: Type.Literal('ready'),
  storage: Type.Union([Type.Literal('mongodb'), Type.Literal('sqlite')]),
});

/** Seconds a load balancer might wait before probing again. */
const RETRY_AFTER = 5;

const probeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.get(
    '/livez',
    {
      schema: {
        summary: 'Liveness: 200 while the process runs',
        tags: ['operations'],
        response: { 200: Live },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary:
          'Readiness: 200 when the store is reachable and writable and the server is not shutting down',
        tags: ['operations'],
        response: { 200: Ready },
      },
    },
    async () => {
      if (closing) throw apiError('NOT_READY', 'Not ready: shutting down', { retryAfter: RETRY_AFTER });
      const h = await app.store.health();
      if (!h.ok) {
        const why = h.detail ? `: ${h.detail}` : '';
        throw apiError('NOT_READY', `Not ready: the ${app.store.kind} store is not available${why}`, {
          retryAfter: RETRY_AFTER,
        });
      }
      return { status: 'ready' as const, storage: app.store.kind };
    },
  );
};

export default probeRoutes;
