/**
 * POST /api/submit (one event) and POST /api/submit/batch (many), each answered only once its
 * events are durably stored. Both take JSON as application/json or text/plain (sendBeacon),
 * optionally compressed; the batch route also takes NDJSON.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type ApiError, apiError } from '../errors.ts';
import { eventRulesOf, prepareEvent } from '../events/normalize.ts';
import { type EventDoc, SubmitEvent } from '../events/schema.ts';
import { registerBodyParsers } from '../http/body.ts';
import { batchItems, type CheckedBatch, checkBatch } from './batch.ts';

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
      const refused = (await app.experimentGate.refused([doc.experiment_id])).get(doc.experiment_id);
      if (refused) throw refused;
      const result = await app.ingest.submit([doc]);
      const failed = result.failed?.[0];
      if (failed) throw apiError('EVENT_NOT_STORED', `The store refused this event: ${failed.message}`);
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
      const checked = checkBatch(items, new Date(), rules);
      const { docs, positions } = admit(
        checked,
        await app.experimentGate.refused(checked.docs.map((d) => d.experiment_id)),
      );
      const { rejected } = checked;
      const result = await app.ingest.submit(docs);
      for (const f of result.failed ?? []) {
        rejected.push({ index: positions[f.index] as number, code: 'EVENT_NOT_STORED', message: f.message });
      }
      rejected.sort((a, b) => a.index - b.index);
      return {
        status: 'success' as const,
        stored: result.inserted,
        duplicates: result.duplicates.length,
        rejected,
      };
    },
  );
};

/** The checked batch without the events of experiments that may not be started now. */
function admit(
  checked: CheckedBatch,
  refused: Map<string, ApiError>,
): { docs: EventDoc[]; positions: number[] } {
  if (refused.size === 0) return checked;
  const docs: EventDoc[] = [];
  const positions: number[] = [];
  checked.docs.forEach((d, i) => {
    const err = refused.get(d.experiment_id);
    const index = checked.positions[i] as number;
    if (!err) {
      docs.push(d);
      positions.push(index);
    } else checked.rejected.push({ index, code: err.code, message: err.message });
  });
  return { docs, positions };
}

const submitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(single);
  await app.register(batch);
};

export default submitRoutes;
