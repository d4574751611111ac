/**
 * The OpenAPI document: @fastify/swagger builds it from the route schemas (the one source of
 * validation and types); this module adds what those schemas cannot say without changing
 * validation: request bodies that custom parsers read (batch, CMCD), the response formats of a
 * streamed read, the shared error shape, operationIds and tags, the admin bearer scheme, and
 * OAS 3.0 forms of the few JSON Schema constructs 3.0 lacks (tuples).
 */
import { Type } from 'typebox';
import { SubmitEvent } from '../events/schema.ts';
import { CONTENT_TYPES } from './format.ts';

type Json = Record<string, unknown>;
type Operation = Json & { parameters?: Json[]; responses?: Record<string, Json> };

const ErrorSchema = Type.Object(
  {
    status: Type.Literal('error'),
    code: Type.String({ description: 'Stable error code (see docs), e.g. VALIDATION_FAILED' }),
    message: Type.String({ description: 'What was wrong and how to fix it' }),
    details: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: 'A JSON pointer into the body, or a parameter name' }),
          message: Type.String(),
        }),
      ),
    ),
  },
  { description: 'Every error reply has this shape' },
);

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorContent = { 'application/json': { schema: ref('Error') } };

/** Operation id and tag of each route (method and path as in the document). */
const OPERATIONS: Record<string, [operationId: string, tag: string]> = {
  'get /api/health': ['getHealth', 'health'],
  'post /api/submit': ['submitEvent', 'ingest'],
  'post /api/submit/batch': ['submitBatch', 'ingest'],
  'get /api/cmcd/{experiment_id}': ['collectCmcdRequest', 'cmcd'],
  'post /api/cmcd/{experiment_id}': ['collectCmcd', 'cmcd'],
  'get /api/cmcd': ['collectCmcdRequestAnyExperiment', 'cmcd'],
  'post /api/cmcd': ['collectCmcdAnyExperiment', 'cmcd'],
  'get /api/metrics/{experiment_id}': ['getMetrics', 'read'],
  'get /api/experiments': ['listExperiments', 'read'],
  'delete /api/experiments/{experiment_id}': ['deleteExperiment', 'admin'],
  'get /api/experiments/{experiment_id}/sessions': ['listSessions', 'read'],
  'get /api/experiments/{experiment_id}/qoe': ['getExperimentQoe', 'qoe'],
  'get /api/experiments/{experiment_id}/timeseries': ['getTimeseries', 'qoe'],
  'get /metrics': ['getPrometheusMetrics', 'operations'],
  'get /livez': ['getLiveness', 'health'],
  'get /readyz': ['getReadiness', 'health'],
};

const TAGS = [
  { name: 'ingest', description: 'Player events in (the testbed format, the reporter SDK)' },
  { name: 'cmcd', description: 'CMCD v2 reports in, from players configured with the collector as target' },
  { name: 'read', description: 'Stored events and experiments out' },
  { name: 'qoe', description: 'Per-session QoE figures and time series (definitions in docs/qoe.md)' },
  { name: 'admin', description: 'Deleting data (admin token)' },
  { name: 'health', description: 'Liveness and storage health' },
  { name: 'operations', description: 'Prometheus metrics for operators' },
];

const CMCD_TEXT = {
  schema: {
    type: 'string',
    description: 'One CMCD dictionary per line, e.g. e=ps,sid="s1",sta=p,ts=1700000000000,v=2',
  },
};
const CMCD_JSON = {
  schema: {
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'CMCD objects',
  },
};

/** Request bodies read by custom parsers (so not in the route schema), by operation. */
function requestBodies(): Record<string, Json> {
  const events = { type: 'array', items: ref('SubmitEvent') };
  return {
    'post /api/submit': {
      required: true,
      content: {
        'application/json': { schema: ref('SubmitEvent') },
        // The same JSON, as navigator.sendBeacon sends it.
        'text/plain': { schema: ref('SubmitEvent') },
      },
    },
    'post /api/submit/batch': {
      required: true,
      content: {
        'application/json': {
          schema: {
            oneOf: [events, { type: 'object', required: ['events'], properties: { events } }],
          },
        },
        'text/plain': { schema: events },
        'application/x-ndjson': { schema: { type: 'string', description: 'One event (JSON) per line' } },
      },
    },
    'post /api/cmcd/{experiment_id}': {
      content: { 'application/cmcd': CMCD_TEXT, 'text/cmcd': CMCD_TEXT, 'application/json': CMCD_JSON },
    },
    'post /api/cmcd': {
      content: { 'application/cmcd': CMCD_TEXT, 'text/cmcd': CMCD_TEXT, 'application/json': CMCD_JSON },
    },
  };
}

const header = (name: string, description: string) => ({
  name,
  in: 'header',
  required: false,
  description,
  schema: { type: 'string' },
});

/** Headers read by the ingest and CMCD routes (not in their schemas: they are optional). */
function headerParameters(key: string): Json[] {
  const encoding = header(
    'Content-Encoding',
    'gzip, deflate or br to send the body compressed (limits apply after decompression)',
  );
  if (key.startsWith('post /api/submit')) return [encoding];
  if (!key.includes(' /api/cmcd')) return [];
  return [
    ...(key.startsWith('post ') ? [encoding] : []),
    ...['Request', 'Object', 'Status', 'Session'].map((s) =>
      header(
        `CMCD-${s}`,
        `CMCD request-mode data (CTA-5004 CMCD-${s} header), stored as a cmcd_request event`,
      ),
    ),
  ];
}

/** GET /api/metrics: one event stream in three formats (the route streams it, so no schema there). */
function metricsResponse(): Json {
  const page = {
    type: 'object',
    required: ['experiment_id', 'metrics', 'count'],
    properties: {
      experiment_id: { type: 'string' },
      metrics: { type: 'array', items: ref('StoredEvent') },
      count: { type: 'integer' },
      next_cursor: { type: 'string', description: 'Present when limit was given and more events follow' },
    },
  };
  const mediaType = (t: string) => t.split(';')[0] as string;
  return {
    description: 'The events, sorted by (timestamp, _id)',
    headers: {
      'X-Next-Cursor': {
        description: 'NDJSON and CSV pages (with limit): the cursor of the next page, when there is one',
        schema: { type: 'string' },
      },
    },
    content: {
      [mediaType(CONTENT_TYPES.json)]: { schema: page },
      [mediaType(CONTENT_TYPES.ndjson)]: {
        schema: { type: 'string', description: 'One event (JSON) per line' },
      },
      [mediaType(CONTENT_TYPES.csv)]: {
        schema: {
          type: 'string',
          description:
            'Header row, then one row per event: _id, experiment_id, timestamp, event_type, protocol, video_id, ' +
            'session_id, event_id, stored_at, payload (JSON text), extra (JSON text). Text cells that a ' +
            "spreadsheet would run as a formula get a leading ' unless csv=raw.",
        },
      },
    },
  };
}

/**
 * Rewrites the JSON Schema constructs OAS 3.0 lacks: tuples (`items: [a, b]`) become `items: a`
 * with minItems/maxItems 2 (or `items: {anyOf}` when the element schemas differ); `const: x`
 * becomes `enum: [x]`; `type: [t, 'null']` becomes `type: t, nullable: true`; `examples` becomes
 * `example`; one `patternProperties` becomes `additionalProperties`.
 */
function toOas30(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) toOas30(n);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Json;
  if (Array.isArray(o.examples)) {
    o.example ??= o.examples[0];
    delete o.examples;
  }
  if (o.patternProperties && typeof o.patternProperties === 'object') {
    const patterns = Object.values(o.patternProperties as Json);
    if (patterns.length === 1) o.additionalProperties ??= patterns[0];
    delete o.patternProperties;
  }
  if ('const' in o) {
    o.enum ??= [o.const];
    delete o.const;
  }
  if (Array.isArray(o.type)) {
    const types = (o.type as string[]).filter((t) => t !== 'null');
    if (types.length < (o.type as string[]).length) o.nullable = true;
    if (types.length === 1) o.type = types[0];
    else {
      delete o.type;
      o.anyOf = types.map((type) => ({ type }));
    }
  }
  const items = o.prefixItems ?? o.items;
  if (Array.isArray(items)) {
    const distinct = [...new Map(items.map((i) => [JSON.stringify(i), i])).values()];
    o.items = distinct.length === 1 ? distinct[0] : { anyOf: distinct };
    o.minItems ??= items.length;
    o.maxItems ??= items.length;
    delete o.prefixItems;
    delete o.additionalItems;
  }
  for (const v of Object.values(o)) toOas30(v);
}

/** Renames path parameter `{id}` to `{experiment_id}`: one name for one thing across paths. */
function renameIdParam(
  paths: Record<string, Record<string, Operation>>,
): Record<string, Record<string, Operation>> {
  const out: Record<string, Record<string, Operation>> = {};
  for (const [p, item] of Object.entries(paths)) {
    for (const op of Object.values(item)) {
      for (const param of op.parameters ?? []) {
        if (param.in === 'path' && param.name === 'id') param.name = 'experiment_id';
      }
    }
    out[p.replaceAll('{id}', '{experiment_id}')] = item;
  }
  return out;
}

/** The finished document (called by @fastify/swagger's transformObject). */
export function completeOpenapi(doc: Json): Json {
  const components = ((doc.components as Json | undefined) ?? {}) as Json;
  components.schemas = {
    ...((components.schemas as Json | undefined) ?? {}),
    Error: ErrorSchema,
    // The schema POST /api/submit validates with (the same object, so never a second copy).
    SubmitEvent: structuredClone(SubmitEvent),
    StoredEvent: {
      allOf: [
        ref('SubmitEvent'),
        {
          type: 'object',
          required: ['_id', 'stored_at'],
          properties: {
            _id: { type: 'string', description: 'Server-assigned id (24 hex digits)' },
            stored_at: { type: 'string', format: 'date-time', description: 'When the server stored it' },
          },
        },
      ],
    },
  };
  components.securitySchemes = {
    adminToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'ADMIN_TOKEN of the server (Authorization: Bearer <token>)',
    },
  };
  const paths = renameIdParam((doc.paths ?? {}) as Record<string, Record<string, Operation>>);
  const bodies = requestBodies();
  for (const [p, item] of Object.entries(paths)) {
    for (const [method, shared] of Object.entries(item)) {
      // A route with two methods (CMCD's GET and POST) shares one operation object.
      const op = structuredClone(shared);
      item[method] = op;
      const key = `${method} ${p}`;
      const [operationId, tag] = OPERATIONS[key] ?? [camel(method, p), 'other'];
      op.operationId = operationId;
      op.tags = [tag];
      const body = bodies[key];
      if (body) op.requestBody = body;
      const headers = headerParameters(key);
      if (headers.length > 0) op.parameters = [...(op.parameters ?? []), ...headers];
      const responses = op.responses ?? {};
      op.responses = responses;
      if (key === 'get /api/metrics/{experiment_id}') responses['200'] = metricsResponse();
      for (const r of Object.values(responses)) {
        if (r.description === 'Default Response') r.description = 'Success';
      }
      responses['4XX'] ??= {
        description: 'The request was refused: see code and message',
        content: errorContent,
      };
      responses['5XX'] ??= {
        description: 'The server could not serve it (503: retry after Retry-After)',
        content: errorContent,
      };
      if (method === 'delete') op.security = [{ adminToken: [] }];
    }
  }
  const out: Json = {
    ...doc,
    servers: [{ url: '/', description: 'This server' }],
    tags: TAGS,
    components,
    paths,
  };
  toOas30(out);
  return out;
}

const camel = (method: string, p: string) =>
  method +
  p
    .split(/[/{}_-]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');
