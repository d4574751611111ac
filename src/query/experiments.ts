/**
 * Experiments and their sessions: GET /api/experiments, DELETE /api/experiments/:id (admin),
 * GET /api/experiments/:id/sessions.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';
import { ExperimentId } from '../events/schema.ts';
import { requireAdmin } from '../security/tokens.ts';

export const ExperimentParams = Type.Object({ id: ExperimentId });

const ExperimentSummarySchema = Type.Object({
  experiment_id: Type.String(),
  count: Type.Integer(),
  first_timestamp: Type.Union([Type.Number(), Type.Null()]),
  last_timestamp: Type.Union([Type.Number(), Type.Null()]),
  event_types: Type.Array(Type.String()),
  sessions: Type.Integer(),
});

const SessionSummarySchema = Type.Object({
  session_id: Type.String(),
  source: Type.Union([Type.Literal('session_id'), Type.Literal('video_id')]),
  count: Type.Integer(),
  first_timestamp: Type.Number(),
  last_timestamp: Type.Number(),
  video_id: Type.String(),
  protocol: Type.String(),
});

const experimentsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // These routes take no body, but HTTP client wrappers send Content-Type: application/json on
  // every request: a JSON content type with no body is no body here, not 400 EMPTY_BODY.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else json(request, String(body), done);
  });

  app.get(
    '/experiments',
    {
      schema: {
        summary: 'Every experiment with its event count, time range, event types and session count',
        response: { 200: Type.Object({ experiments: Type.Array(ExperimentSummarySchema) }) },
      },
    },
    async () => ({ experiments: await app.store.listExperiments() }),
  );

  app.delete(
    '/experiments/:id',
    {
      preHandler: requireAdmin(app.config),
      schema: {
        summary: "Delete an experiment's events (admin: Authorization: Bearer <ADMIN_TOKEN>)",
        params: ExperimentParams,
        response: { 200: Type.Object({ status: Type.Literal('success'), deleted: Type.Integer() }) },
      },
    },
    async (request) => {
      const deleted = await app.store.deleteExperiment(request.params.id);
      if (deleted === 0) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${request.params.id}"`);
      request.log.info({ experiment_id: request.params.id, deleted }, 'experiment deleted');
      return { status: 'success' as const, deleted };
    },
  );

  app.get(
    '/experiments/:id/sessions',
    {
      schema: {
        summary:
          "An experiment's playback sessions: by session_id, else payload.session_id or video_id split into runs (docs/api.md)",
        params: ExperimentParams,
        response: {
          200: Type.Object({ experiment_id: Type.String(), sessions: Type.Array(SessionSummarySchema) }),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const rows = await app.store.listSessions(id);
      if (rows.length === 0) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${id}"`);
      const sessions = rows.map(({ version: _v, qoe: _q, ...summary }) => summary);
      return { experiment_id: id, sessions };
    },
  );
};

export default experimentsRoutes;
