/** GET /api/metrics/:experiment_id: an experiment's events, sorted by timestamp. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ExperimentId, type StoredEvent, StoredEventSchema } from '../events/schema.ts';

export const MetricsParams = Type.Object({ experiment_id: ExperimentId });
export const MetricsQuerystring = Type.Object({
  event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  start_time: Type.Optional(Type.Number({ description: 'Inclusive lower bound (Unix seconds); 0 is valid' })),
  end_time: Type.Optional(Type.Number({ description: 'Inclusive upper bound (Unix seconds)' })),
});

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics/:experiment_id',
    {
      schema: {
        summary: "An experiment's events, sorted by timestamp ascending",
        params: MetricsParams,
        querystring: MetricsQuerystring,
        response: {
          200: Type.Object({
            experiment_id: Type.String(),
            count: Type.Integer(),
            metrics: Type.Array(StoredEventSchema),
          }),
        },
      },
    },
    async (request) => {
      const { experiment_id } = request.params;
      const q = request.query;
      const metrics: StoredEvent[] = [];
      for await (const e of app.store.find({
        experimentId: experiment_id,
        eventType: q.event_type,
        startTime: q.start_time,
        endTime: q.end_time,
      })) {
        metrics.push(e);
      }
      return { experiment_id, count: metrics.length, metrics };
    },
  );
};

export default metricsRoutes;
