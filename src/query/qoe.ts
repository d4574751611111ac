/**
 * QoE over HTTP: GET /api/experiments/:id/qoe and /timeseries. Sessions come from the store's
 * summaries, each with its cached QoE; only sessions changed since their QoE was cached are
 * computed from their events (src/session-qoe/service.ts): when they hold half the events or
 * more, all of them in one read of the experiment (qoeMany), else one session at a time. The QoE
 * table is also CSV (`format=csv`, columns in qoe-table.ts, shared with the CLI and dashboard).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';
import {
  AggregateSchema,
  DEFAULT_MAX_POINTS,
  parseWarmup,
  SessionQoeSchema,
  TIMESERIES_METRICS,
  TimeseriesPointsSchema,
  type Warmup,
  WarmupSchema,
} from '../qoe/index.ts';
import { experimentQoe, QoeNotFound } from './experiment-qoe.ts';
import { ExperimentParams } from './experiments.ts';
import { QOE_COLUMNS, qoeCsv } from './qoe-table.ts';

const CSV_TYPE = 'text/csv; charset=utf-8; header=present';

/** A session's QoE with its run number and start (the table's extra columns). */
const QoeRowSchema = Type.Object(
  {
    ...SessionQoeSchema.properties,
    run: Type.Integer({
      minimum: 1,
      description: "The session's place among the experiment's sessions by first event (run 1 is the oldest)",
    }),
    started_unix_s: Type.Number({ description: "The session's first event (Unix seconds)" }),
  },
  { description: 'QoE of one session (definitions in docs/qoe.md), its run number and start' },
);

const QoeReplySchema = Type.Object({
  experiment_id: Type.String(),
  warmup: WarmupSchema,
  sessions: Type.Array(QoeRowSchema),
  aggregate: AggregateSchema,
});

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
          'QoE per session and aggregated over sessions (mean, median, p95), as JSON or as a CSV table; definitions in docs/qoe.md',
        params: ExperimentParams,
        querystring: Type.Object({
          warmup: Type.Optional(
            Type.String({
              maxLength: 32,
              description: "Trim from each session's start: seconds (>= 1) or a fraction (0 < f < 1)",
            }),
          ),
          session: Type.Optional(SessionParam),
          format: Type.Optional(
            Type.Union([Type.Literal('json'), Type.Literal('csv')], {
              default: 'json',
              description:
                'json: sessions and aggregate; csv: the per-session table (columns in docs/api.md)',
            }),
          ),
        }),
        response: {
          200: {
            description:
              'The per-session QoE (JSON: with the aggregate; CSV: one row per session, in run order)',
            content: {
              'application/json': { schema: QoeReplySchema },
              'text/csv': {
                schema: Type.String({
                  description: `Header row, then one row per session: ${QOE_COLUMNS.join(', ')}`,
                }),
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const warmup = warmupParam(request.query.warmup);
      const table = await experimentQoe(app.store, app.sessions, id, warmup, request.query.session).catch(
        (err: unknown) => {
          if (!(err instanceof QoeNotFound)) throw err;
          throw apiError(err.what === 'session' ? 'SESSION_NOT_FOUND' : 'EXPERIMENT_NOT_FOUND', err.message);
        },
      );
      if (request.query.format !== 'csv') return reply.type('application/json; charset=utf-8').send(table);
      const name = `${id}-qoe${warmup.mode === 'none' ? '' : '-warmup'}.csv`.replace(/[^\w.-]/g, '_');
      return reply
        .type(CSV_TYPE)
        .header('content-disposition', `inline; filename="${name}"`)
        .send(qoeCsv(table.sessions));
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
