/**
 * QoE over HTTP: GET /api/experiments/:id/qoe and /timeseries. Sessions come from the store's
 * summaries, each with its cached QoE; only sessions changed since their QoE was cached are
 * computed from their events (src/session-qoe/service.ts): when they hold half the events or
 * more, all of them in one read of the experiment (qoeMany), else one session at a time.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';
import {
  AggregateSchema,
  aggregate,
  DEFAULT_MAX_POINTS,
  parseWarmup,
  SessionQoeSchema,
  TIMESERIES_METRICS,
  TimeseriesPointsSchema,
  type Warmup,
  WarmupSchema,
} from '../qoe/index.ts';
import type { SessionRow } from '../store/types.ts';
import { ExperimentParams } from './experiments.ts';

const SessionParam = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'A session id as GET /api/experiments/:id/sessions lists it',
});

function warmupParam(raw: string | undefined): Warmup {
  try {
    return parseWarmup(raw);
  } catch (err) {
    const message = (err as Error).message;
    throw apiError('INVALID_QUERY', message, { details: [{ path: 'querystring.warmup', message }] });
  }
}

const qoeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/experiments/:id/qoe',
    {
      schema: {
        summary:
          'QoE per session and aggregated over sessions (mean, median, p95); definitions in docs/qoe.md',
        params: ExperimentParams,
        querystring: Type.Object({
          warmup: Type.Optional(
            Type.String({
              maxLength: 32,
              description: "Trim from each session's start: seconds (>= 1) or a fraction (0 < f < 1)",
            }),
          ),
          session: Type.Optional(SessionParam),
        }),
        response: {
          200: Type.Object({
            experiment_id: Type.String(),
            warmup: WarmupSchema,
            sessions: Type.Array(SessionQoeSchema),
            aggregate: AggregateSchema,
          }),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const warmup = warmupParam(request.query.warmup);
      const { session } = request.query;
      let rows: SessionRow[];
      if (session !== undefined) {
        const row = await app.store.getSession(id, session);
        if (!row) throw apiError('SESSION_NOT_FOUND', `No session "${session}" in "${id}"`);
        rows = [row];
      } else {
        rows = await app.store.listSessions(id);
        if (rows.length === 0) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${id}"`);
      }
      // In the sessions list's order (the store's), each from its summary when current.
      const list = await app.sessions.qoeMany(id, rows, warmup);
      return { experiment_id: id, warmup, sessions: list, aggregate: aggregate(list) };
    },
  );

  app.get(
    '/experiments/:id/timeseries',
    {
      schema: {
        summary:
          "One session's bitrate, buffer, latency, throughput or playback rate over time, downsampled for plotting",
        params: ExperimentParams,
        querystring: Type.Object({
          metric: Type.Union(
            TIMESERIES_METRICS.map((m) => Type.Literal(m)),
            { description: 'bitrate (bps), buffer (s), latency (s), throughput (bps) or playback_rate (x)' },
          ),
          session: Type.Optional(SessionParam),
          max_points: Type.Optional(
            Type.Integer({ minimum: 2, maximum: 10_000, default: DEFAULT_MAX_POINTS }),
          ),
        }),
        response: {
          200: Type.Object({
            experiment_id: Type.String(),
            session_id: Type.String(),
            metric: Type.String(),
            unit: Type.String(),
            points: TimeseriesPointsSchema,
          }),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { metric, max_points } = request.query;
      const { session } = request.query;
      // Without a session: the experiment's first one (the reply names it).
      const row =
        session === undefined
          ? (await app.store.listSessions(id))[0]
          : await app.store.getSession(id, session);
      if (!row) {
        if (session === undefined) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${id}"`);
        throw apiError('SESSION_NOT_FOUND', `No session "${session}" in "${id}"`);
      }
      const series = await app.sessions.timeseries(id, row, metric, max_points ?? DEFAULT_MAX_POINTS);
      return { experiment_id: id, session_id: row.session_id, ...series };
    },
  );
};

export default qoeRoutes;
