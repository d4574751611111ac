/**
 * GET /metrics: Prometheus text exposition (prom-client) for operators. The names, labels and
 * what to alert on are in docs/operations-metrics.md; docs/grafana-dashboard.json graphs them.
 *
 * Hot-path cost: one counter and one histogram update per HTTP response, one histogram update
 * per store write (a group of requests), nothing per event; the queue depth is read at scrape
 * time. Outside /metrics the path is at the root, apart from /api/metrics/:experiment_id.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { apiError, StoreUnavailableError } from '../errors.ts';
import { toApiError } from '../http/error-handler.ts';
import { bearerCheck } from '../security/tokens.ts';
import type { InsertResult } from '../store/types.ts';
import { clusterScrape } from './cluster.ts';

/** Process metrics (CPU, memory, event loop lag, GC) exist once per process, not per app. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Routes whose failures are rejected submissions (one event, or a batch refused whole). */
const INGEST_ROUTES = new Set(['/api/submit', '/api/submit/batch', '/api/cmcd', '/api/cmcd/:experiment_id']);
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const GROUP_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

function appMetrics(app: FastifyInstance) {
  const register = new Registry();
  return {
    register,
    events: new Counter({
      name: 'stats_ingest_events_total',
      help: 'Events acknowledged to clients, by result: stored (new) or duplicate (event_id already stored)',
      labelNames: ['result'] as const,
      registers: [register],
    }),
    rejected: new Counter({
      name: 'stats_ingest_rejected_total',
      help: 'Submissions refused, by error code: a whole request (one event, a CMCD report or a batch refused as a whole) counts 1, each event a batch rejected counts 1',
      labelNames: ['code'] as const,
      registers: [register],
    }),
    requests: new Counter({
      name: 'stats_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [register],
    }),
    latency: new Histogram({
      name: 'stats_http_request_duration_seconds',
      help: 'Time from request received to response sent, by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [register],
    }),
    queue: new Gauge({
      name: 'stats_ingest_queue_events',
      help: 'Events accepted and not yet committed (group-commit queue plus the write in flight); requests are refused with 503 OVERLOADED past INGEST_MAX_QUEUED_EVENTS',
      registers: [register],
      collect() {
        this.set(app.ingest.outstanding);
      },
    }),
    groupSize: new Histogram({
      name: 'stats_ingest_group_events',
      help: 'Events per store write (group commit coalesces concurrent requests into one write)',
      buckets: GROUP_BUCKETS,
      registers: [register],
    }),
    commitLatency: new Histogram({
      name: 'stats_ingest_commit_duration_seconds',
      help: 'Duration of one store write (durable commit of a group), by outcome',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [register],
    }),
    storeErrors: new Counter({
      name: 'stats_store_errors_total',
      help: 'Store operations that failed (backend unreachable or refusing): write = a group write, read = a request answered 503 STORE_UNAVAILABLE',
      labelNames: ['operation'] as const,
      registers: [register],
    }),
  };
}

interface BatchReply {
  rejected?: { code: string }[];
}

async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const m = appMetrics(app);
  const stored = m.events.labels('stored');
  const duplicate = m.events.labels('duplicate');
  const committed = m.commitLatency.labels('committed');
  const failed = m.commitLatency.labels('failed');
  const writeErrors = m.storeErrors.labels('write');

  app.ingest.observe({
    written(events: number, seconds: number, result: InsertResult | undefined) {
      m.groupSize.observe(events);
      if (result) {
        committed.observe(seconds);
        stored.inc(result.inserted);
        if (result.duplicates.length > 0) duplicate.inc(result.duplicates.length);
      } else {
        failed.observe(seconds);
        writeErrors.inc();
      }
    },
  });

  // Callback style: no promise per response.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    m.requests.inc({ method: request.method, route, status: reply.statusCode });
    m.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });

  app.addHook('onError', async (request, _reply, error) => {
    const route = request.routeOptions.url;
    if (route !== undefined && INGEST_ROUTES.has(route)) {
      m.rejected.inc({ code: toApiError(error)?.code ?? 'INTERNAL' });
    } else if (error instanceof StoreUnavailableError) {
      m.storeErrors.inc({ operation: 'read' });
    }
  });

  // Events a batch rejected one by one are in its reply body, not an error.
  app.addHook('preSerialization', async (request, _reply, payload: unknown) => {
    if (request.routeOptions.url === '/api/submit/batch') {
      for (const r of (payload as BatchReply)?.rejected ?? []) m.rejected.inc({ code: r.code });
    }
    return payload;
  });

  const local = async () => {
    const [proc, own] = await Promise.all([processMetrics().metrics(), m.register.metrics()]);
    return `${proc}\n${own}`;
  };
  // Under WORKERS=n, every worker's numbers, summed by the primary.
  const fromCluster = clusterScrape([processMetrics(), m.register]);

  const token = app.config.metricsToken;
  const authorized = token === undefined ? undefined : bearerCheck(token);
  // On a public network the numbers (routes, error rates, queue depth) are not for everyone:
  // without METRICS_TOKEN the endpoint is shut rather than open. The probes stay open.
  const shut = !authorized && app.config.security.profile === 'public';
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['operations'] } },
    async (request, reply) => {
      if (shut) {
        throw apiError(
          'FORBIDDEN',
          'GET /metrics is off with SECURITY_PROFILE=public until METRICS_TOKEN is set',
        );
      }
      if (authorized && !authorized(request.headers.authorization)) {
        throw apiError('UNAUTHORIZED', 'This endpoint needs the metrics token (Authorization: Bearer ...)');
      }
      let text: string;
      try {
        text = fromCluster ? await fromCluster() : await local();
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'cluster metrics unavailable; this worker only');
        text = await local();
      }
      return reply.header('content-type', m.register.contentType).send(text);
    },
  );
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['store'] });
