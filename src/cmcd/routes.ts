/**
 * The CMCD collector: `POST /api/cmcd/:experiment_id` (and `/api/cmcd`, experiment from the
 * report) takes CMCD v2 event-mode bodies; `GET` or `POST` with a `CMCD` query argument or
 * `CMCD-*` headers takes request-mode (v1 or v2) data. Every report becomes one event through
 * the shared ingest path (group commit, dedupe, backpressure). Replies follow CTA-5004 event
 * mode: 200 stored (partly bad bodies list the rejected lines), 400 nothing storable, 410 the
 * experiment is closed, 503 + Retry-After overloaded or store down.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError, apiError, type ErrorCode, type ErrorDetail } from '../errors.ts';
import { eventRulesOf, prepareEvent } from '../events/normalize.ts';
import { type EventDoc, ExperimentId, experimentIdRe } from '../events/schema.ts';
import { decodeBody, refuseOtherTypes } from '../http/body.ts';
import { type CollectResult, collectReports, orderOf } from './collect.ts';
import { SessionMemory } from './map.ts';
import { ReportQuota } from './quota.ts';
import { fillFromStore } from './session-fill.ts';

const Origin = {
  line: Type.Optional(Type.Integer({ description: '1-based line of an application/cmcd body' })),
  index: Type.Optional(Type.Integer({ description: '0-based index in a JSON array body' })),
  source: Type.Optional(Type.String({ description: '"query" or "headers" for request-mode data' })),
};
const Detail = Type.Object({ path: Type.String(), message: Type.String() });

export const CmcdReply = Type.Object({
  status: Type.Literal('success'),
  stored: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Array(
    Type.Object({
      ...Origin,
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Array(Detail)),
    }),
  ),
  warnings: Type.Optional(
    Type.Array(Type.Object({ ...Origin, details: Type.Array(Detail) }), {
      description: 'Reports stored despite departing from CTA-5004 (first 50)',
    }),
  ),
});

const Query = Type.Object({
  CMCD: Type.Optional(Type.String({ description: 'CMCD request-mode data (v1 or v2)' })),
});

/** Content types the collector reads as text; JSON bodies are recognised by their first byte. */
const TEXT_TYPES = ['application/cmcd', 'text/cmcd', 'text/plain', 'application/json'];

const MAX_LISTED = 50;

/** CMCD `ts` is milliseconds (CTA-5004); timestamp problems are told in its terms. */
const CMCD_TS = { field: 'ts', perSecond: 1000 } as const;

/** When every report failed for one of these reasons, the reply is that error, not CMCD_NO_REPORTS. */
const PASSED_ON: ReadonlySet<ErrorCode> = new Set([
  'CMCD_MISSING_EXPERIMENT',
  'EVENT_TOO_LARGE',
  'IMPLAUSIBLE_TIMESTAMP',
  'INVALID_FIELD_NAME',
  'VALIDATION_FAILED',
]);

const cmcdRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Own parsers in this scope: CMCD bodies are text whatever other routes do with text/plain.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(TEXT_TYPES, { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024;
    decodeBody(req.headers['content-encoding'], body, limit).then(
      (decoded) => done(null, decoded.toString('utf8')),
      (err: Error) => done(err),
    );
  });
  refuseOtherTypes(app, TEXT_TYPES);

  const memory = new SessionMemory();
  const quota = new ReportQuota({
    perClient: app.config.cmcd.reportsPerSPerClient,
    perSession: app.config.cmcd.reportsPerSPerSession,
    maxReports: app.config.ingest.cmcdMaxReports,
  });
  const { cmcd } = app.config;
  const closed = new Set(cmcd.closedExperiments);
  const rules = eventRulesOf(app.config);
  // Reports without `ts` are stamped with server time: nothing to check.
  const untimed = { ...rules, timestamps: { check: false, min: 0, maxFutureS: 0 } };

  async function handle(request: FastifyRequest, reply: FastifyReply, pathExperiment?: string) {
    if (pathExperiment !== undefined && closed.has(pathExperiment)) throw apiError('EXPERIMENT_CLOSED');
    const now = new Date();
    const result: CollectResult = collectReports(
      {
        body: typeof request.body === 'string' ? request.body : undefined,
        query: (request.query as { CMCD?: string }).CMCD,
        headers: request.headers,
      },
      {
        now,
        maxReports: app.config.ingest.cmcdMaxReports,
        memory,
        experimentFor: (data) => experimentFor(data, pathExperiment),
        isClosed: (id) => closed.has(id),
      },
    );
    if (result.empty) {
      throw apiError(
        'EMPTY_BODY',
        'Send CMCD reports: an application/cmcd body, a CMCD query argument or CMCD-* headers',
      );
    }
    limitRates(request, result);
    await fillFromStore((exp, sid) => app.store.getSession(exp, sid), result.events);
    // Each report on its own: one bad report (a "$" key, 1e400, a millisecond ts) rejects
    // only itself, as a bad line does.
    const docs: EventDoc[] = [];
    const docOrigins: CollectResult['origins'] = [];
    result.events.forEach((event, i) => {
      try {
        docs.push(
          event.timestamp_source === 'server'
            ? prepareEvent(event, now, untimed)
            : prepareEvent(event, now, rules, CMCD_TS),
        );
        docOrigins.push(result.origins[i] ?? { source: 'query' });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        result.rejected.push({
          origin: result.origins[i] ?? { source: 'query' },
          code: err.code,
          message: err.message,
          ...(err.details ? { details: err.details } : {}),
        });
      }
    });
    if (docs.length === 0) {
      // One reason for all (every report closed, or none names its experiment): say that one.
      const codes = new Set(result.rejected.map((r) => r.code));
      const only = codes.size === 1 ? [...codes][0] : undefined;
      const details = result.rejected
        .slice(0, MAX_LISTED)
        .map((r) => ({ path: where(r), message: r.message }));
      if (only === 'EXPERIMENT_CLOSED') throw apiError(only);
      if (only === 'CMCD_RATE_LIMITED') {
        throw apiError(only, result.rejected[0]?.message, { details, retryAfter: 1 });
      }
      if (only !== undefined && PASSED_ON.has(only)) {
        const message = result.rejected.length === 1 ? result.rejected[0]?.message : undefined;
        throw apiError(only, message, { details });
      }
      throw apiError('CMCD_NO_REPORTS', undefined, { details });
    }
    result.rejected.sort((a, b) => orderOf(a.origin) - orderOf(b.origin));
    // Reports of experiments that may not be started now (MAX_EXPERIMENTS, the rate) are refused.
    const gate = await app.experimentGate.refused(docs.map((d) => d.experiment_id));
    if (gate.size > 0) {
      const keep = docs.map((d) => !gate.has(d.experiment_id));
      docs.forEach((d, i) => {
        const err = gate.get(d.experiment_id);
        if (err)
          result.rejected.push({
            origin: docOrigins[i] ?? { source: 'query' },
            code: err.code,
            message: err.message,
          });
      });
      const kept = docs.filter((_, i) => keep[i]);
      const keptOrigins = docOrigins.filter((_, i) => keep[i]);
      docs.length = 0;
      docs.push(...kept);
      docOrigins.length = 0;
      docOrigins.push(...keptOrigins);
      if (docs.length === 0) {
        const first = [...gate.values()][0] as ApiError;
        throw first;
      }
    }
    const stored = await app.ingest.submit(docs);
    for (const f of stored.failed ?? []) {
      result.rejected.push({
        origin: docOrigins[f.index] ?? { source: 'query' },
        code: 'EVENT_NOT_STORED',
        message: f.message,
      });
    }
    if (stored.failed?.length) result.rejected.sort((a, b) => orderOf(a.origin) - orderOf(b.origin));
    return reply.send({
      status: 'success' as const,
      stored: stored.inserted,
      duplicates: stored.duplicates.length,
      rejected: result.rejected.slice(0, MAX_LISTED).map(({ origin, code, message, details }) => ({
        ...origin,
        code,
        message,
        ...(details && details.length > 0 ? { details } : {}),
      })),
      ...(result.warnings.length > 0
        ? {
            warnings: result.warnings
              .slice(0, MAX_LISTED)
              .map(({ origin, details }) => ({ ...origin, details })),
          }
        : {}),
    });
  }

  /**
   * CMCD_REPORTS_PER_S_PER_CLIENT for the whole request (429, nothing stored), then
   * CMCD_REPORTS_PER_S_PER_SESSION per report (those over it are rejected, the rest stored).
   */
  function limitRates(request: FastifyRequest, result: CollectResult): void {
    const n = result.events.length;
    if (n === 0) return;
    const wait = quota.client(request.ip, n);
    if (wait > 0) {
      throw apiError(
        'CMCD_RATE_LIMITED',
        `This client sends more than ${app.config.cmcd.reportsPerSPerClient} CMCD reports a second (CMCD_REPORTS_PER_S_PER_CLIENT); retry in ${wait} s`,
        { retryAfter: wait },
      );
    }
    const keep = result.events.map((e) =>
      e.session_id === undefined ? true : quota.session(`${e.experiment_id}\0${e.session_id}`),
    );
    if (keep.every(Boolean)) return;
    const events = result.events.filter((_, i) => keep[i]);
    const origins = result.origins.filter((_, i) => keep[i]);
    result.events.forEach((e, i) => {
      if (keep[i]) return;
      result.rejected.push({
        origin: result.origins[i] ?? { source: 'query' },
        code: 'CMCD_RATE_LIMITED',
        message: `Session "${e.session_id}" sends more than ${app.config.cmcd.reportsPerSPerSession} CMCD reports a second (CMCD_REPORTS_PER_S_PER_SESSION)`,
      });
    });
    result.events = events;
    result.origins = origins;
  }

  /** The path's experiment wins; otherwise the report's experiment key, else the default. */
  function experimentFor(data: Record<string, unknown>, pathExperiment?: string): string | ErrorDetail {
    if (pathExperiment !== undefined) return pathExperiment;
    const given = data[cmcd.experimentKey];
    const id = typeof given === 'string' && given !== '' ? given : cmcd.defaultExperiment;
    if (id === undefined) {
      return { path: cmcd.experimentKey, message: `No "${cmcd.experimentKey}" key in the report` };
    }
    if (!experimentIdRe.test(id)) {
      return { path: cmcd.experimentKey, message: 'Not a valid experiment id (1-128 of A-Z a-z 0-9 _ . -)' };
    }
    return id;
  }

  const description =
    'CMCD v2 event-mode reports (Content-Type application/cmcd or text/cmcd: one dictionary per ' +
    'line; or a JSON array of CMCD objects), or request-mode data in a CMCD query argument or ' +
    'CMCD-Request/-Object/-Status/-Session headers. Each report is stored as an event cmcd_<e>.';
  const response = { 200: CmcdReply };

  app.route({
    method: ['GET', 'POST'],
    url: '/cmcd/:experiment_id',
    schema: {
      summary: 'Collect CMCD reports for an experiment',
      description,
      params: Type.Object({ experiment_id: ExperimentId }),
      querystring: Query,
      response,
    },
    handler: (request, reply) =>
      handle(request, reply, (request.params as { experiment_id: string }).experiment_id),
  });
  app.route({
    method: ['GET', 'POST'],
    url: '/cmcd',
    schema: {
      summary: 'Collect CMCD reports; the experiment comes from each report',
      description: `${description} The experiment id is read from the report key set by CMCD_EXPERIMENT_KEY (default "${cmcd.experimentKey}").`,
      querystring: Query,
      response,
    },
    handler: (request, reply) => handle(request, reply),
  });
};

function where(r: CollectResult['rejected'][number]): string {
  const o = r.origin;
  if ('line' in o) return `line ${o.line}`;
  if ('index' in o) return `/${o.index}`;
  return o.source;
}

export default cmcdRoutes;
