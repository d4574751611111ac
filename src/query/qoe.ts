/**
 * QoE over HTTP: GET /api/experiments/:id/qoe and /timeseries. The maths is src/qoe (pure);
 * this feeds it one session at a time from the store, so memory is bounded by the largest
 * session rather than the experiment.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';
import type { StoredEvent } from '../events/schema.ts';
import {
  AggregateSchema,
  aggregate,
  computeSessionQoe,
  DEFAULT_MAX_POINTS,
  parseWarmup,
  type SessionQoe,
  SessionQoeSchema,
  TIMESERIES_METRICS,
  TimeseriesPointsSchema,
  timeseries,
  type Warmup,
  WarmupSchema,
} from '../qoe/index.ts';
import type { EventStore } from '../store/types.ts';
import { ExperimentParams } from './experiments.ts';

const SessionParam = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'A session id as GET /api/experiments/:id/sessions lists it',
});

/** Every event of one session, in time order (one session is small enough to hold). */
async function sessionEvents(
  store: EventStore,
  experimentId: string,
  session: string,
): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of store.readEvents({ experimentId, session })) out.push(...batch);
  return out;
}

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
      const sessions: Array<{ first: number; qoe: SessionQoe }> = [];
      if (session !== undefined) {
        const events = await sessionEvents(app.store, id, session);
        if (events.length === 0) throw apiError('SESSION_NOT_FOUND', `No session "${session}" in "${id}"`);
        sessions.push({ first: 0, qoe: computeSessionQoe(events, { warmup }) });
      } else {
        for await (const events of app.store.readSessions(id)) {
          let first = Number.POSITIVE_INFINITY;
          for (const e of events) if (e.timestamp < first) first = e.timestamp;
          sessions.push({ first, qoe: computeSessionQoe(events, { warmup }) });
        }
        if (sessions.length === 0) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${id}"`);
      }
      // The same order as the sessions list: by first event, then id.
      sessions.sort(
        (a, b) =>
          a.first - b.first ||
          (a.qoe.session_id < b.qoe.session_id ? -1 : a.qoe.session_id > b.qoe.session_id ? 1 : 0),
      );
      const list = sessions.map((s) => s.qoe);
      return { experiment_id: id, warmup, sessions: list, aggregate: aggregate(list) };
    },
  );

  app.get(
    '/experiments/:id/timeseries',
    {
      schema: {
        summary: "One session's bitrate, buffer, latency or throughput over time, downsampled for plotting",
        params: ExperimentParams,
        querystring: Type.Object({
          metric: Type.Union(
            TIMESERIES_METRICS.map((m) => Type.Literal(m)),
            { description: 'bitrate (bps), buffer (s), latency (s) or throughput (bps)' },
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
      let session = request.query.session;
      if (session === undefined) {
        // Without a session: the experiment's first one (the reply names it).
        const [first] = await app.store.listSessions(id);
        if (!first) throw apiError('EXPERIMENT_NOT_FOUND', `No experiment "${id}"`);
        session = first.session_id;
      }
      const events = await sessionEvents(app.store, id, session);
      if (events.length === 0) throw apiError('SESSION_NOT_FOUND', `No session "${session}" in "${id}"`);
      const series = timeseries(events, metric, max_points ?? DEFAULT_MAX_POINTS);
      return { experiment_id: id, session_id: session, ...series };
    },
  );
};

export default qoeRoutes;
