/** POST /api/submit: one event, answered once it is durably stored. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { prepareEvent } from '../events/normalize.ts';
import { SubmitEvent } from '../events/schema.ts';

export const Success = Type.Object({ status: Type.Literal('success') });

const submitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/submit',
    {
      schema: {
        summary: 'Store one player event',
        body: SubmitEvent,
        response: { 200: Success },
      },
    },
    async (request) => {
      const doc = prepareEvent(request.body, new Date());
      await app.ingest.submit([doc]);
      return { status: 'success' as const };
    },
  );
};

export default submitRoutes;
