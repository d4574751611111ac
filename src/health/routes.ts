/** GET /api/health, as the Flask server answers it (the testbed's healthcheck curls it). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
    service: Type.Literal('stats_server'),
    mongodb: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('not_used')]),
    storage: Type.Union([Type.Literal('mongodb'), Type.Literal('sqlite')]),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Health check: 200 when the store answers, 503 when it does not',
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      const store = app.store;
      const h = await store.health();
      const mongodb = store.kind !== 'mongodb' ? 'not_used' : h.ok ? 'connected' : 'disconnected';
      return reply.code(h.ok ? 200 : 503).send({
        status: h.ok ? 'healthy' : 'unhealthy',
        service: 'stats_server',
        mongodb,
        storage: store.kind,
        ...(h.ok || !h.detail ? {} : { error: h.detail }),
      });
    },
  );
};

export default healthRoutes;
