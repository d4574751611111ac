/**
 * POST /api/submit (one event) and POST /api/submit/batch (many), each answered only once its
 * events are durably stored. Both take JSON as application/json or text/plain (sendBeacon),
 * optionally compressed; the batch route also takes NDJSON.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { eventRulesOf, prepareEvent } from '../events/normalize.ts';
import { SubmitEvent } from '../events/schema.ts';
import { batchItems, checkBatch } from './batch.ts';
import { registerBodyParsers } from './body.ts';

export const Success = Type.Object({ status: Type.Literal('success') });

const Detail = Type.Object({ path: Type.String(), message: Type.String() });
export const BatchResult = Type.Object({
  status: Type.Literal('success'),
  stored: Type.Integer({ description: 'Events newly stored' }),
  duplicates: Type.Integer({ description: 'Events whose (experiment_id, event_id) was already stored' }),
  rejected: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position of the event in the batch (0-based)' }),
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Array(Detail)),
    }),
  ),
});

const single: FastifyPluginAsyncTypebox = async (app) => {
  registerBodyParsers(app, { ndjson: false });
  const rules = eventRulesOf(app.config);
  app.post(
    '/submit',
    {
      schema: {
        summary: 'Store one player event',
        description:
          'JSON as application/json or text/plain (sendBeacon); Content-Encoding gzip, deflate or br accepted. ' +
          'A retry with an already stored (experiment_id, event_id) is answered success and stored once.',
        body: SubmitEvent,
        response: { 200: Success },
      },
    },
    async (request) => {
      const doc = prepareEvent(request.body, new Date(), rules);
      await app.ingest.submit([doc]);
      return { status: 'success' as const };
    },
  );
};

const batch: FastifyPluginAsyncTypebox = async (app) => {
  registerBodyParsers(app, { ndjson: true });
  const { batchMaxEvents, batchBodyLimit } = app.config.ingest;
  const rules = eventRulesOf(app.config);
  app.post(
    '/submit/batch',
    {
      bodyLimit: batchBodyLimit,
      schema: {
        summary: 'Store many player events (of any experiments) at once',
        description:
          `A JSON array of events, {"events": [...]}, or NDJSON (application/x-ndjson), at most ${batchMaxEvents} ` +
          `events and ${batchBodyLimit} bytes (decompressed). Valid events are stored even when others are ` +
          'rejected; each rejected event is listed with its index and reason.',
        response: { 200: BatchResult },
      },
    },
    async (request) => {
      const items = batchItems(request.body, batchMaxEvents);
      const { docs, rejected } = checkBatch(items, new Date(), rules);
      const result = await app.ingest.submit(docs);
      return {
        status: 'success' as const,
        stored: result.inserted,
        duplicates: result.duplicates.length,
        rejected,
      };
    },
  );
};

const submitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(single);
  await app.register(batch);
};

export default submitRoutes;
