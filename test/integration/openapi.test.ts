// The OpenAPI document at /api/openapi.json as tools see it: @apidevtools/swagger-parser's
// validate() accepts it, and it is complete (operationIds and tags on every operation, one path
// parameter name, request bodies of batch and CMCD, the three formats of /api/metrics with
// X-Next-Cursor, the shared Error component on 4XX/5XX, the bearer scheme on DELETE, servers).
// The reference page at /api/docs and every asset it loads are served by the server itself
// (no CDN). Starts the app (inject) on an SQLite file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { configFrom } from '../../src/config/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: the test walks an untyped JSON document
type Json = Record<string, any>;

let app: FastifyInstance;
let dir: string;
let doc: Json;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-openapi-'));
  app = await buildApp(configFrom({ DATA_DIR: dir }));
  const res = await app.inject('/api/openapi.json');
  assert.equal(res.statusCode, 200);
  doc = res.json();
});
after(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([p, item]) =>
    Object.entries(item as Json).map(([method, op]) => ({ key: `${method} ${p}`, op: op as Json })),
  );

test('swagger-parser validates the document', async () => {
  await SwaggerParser.validate(structuredClone(doc) as never);
});

test('every operation has a unique operationId and a tag; servers are set', () => {
  const ops = operations();
  assert.ok(ops.length >= 13, `${ops.length} operations`);
  const ids = ops.map(({ op }) => op.operationId);
  assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0));
  assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids}`);
  for (const { key, op } of ops) {
    assert.ok(Array.isArray(op.tags) && op.tags.length === 1 && op.tags[0] !== 'other', key);
  }
  assert.deepEqual(doc.servers, [{ url: '/', description: 'This server' }]);
});

test('one path parameter name for the experiment', () => {
  const paths = Object.keys(doc.paths);
  assert.ok(
    paths.every((p) => !p.includes('{id}')),
    paths.join(' '),
  );
  assert.ok(paths.includes('/api/experiments/{experiment_id}/qoe'));
  for (const { key, op } of operations()) {
    const params = (op.parameters ?? []).filter((x: Json) => x.in === 'path').map((x: Json) => x.name);
    const inPath = [...key.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    assert.deepEqual(params.sort(), inPath.sort(), key);
  }
});

test('request bodies: submit (JSON, beacon text), batch (array, {events}, NDJSON), CMCD', () => {
  const body = (k: string) =>
    Object.keys(doc.paths[k.split(' ')[1] as string][k.split(' ')[0] as string].requestBody.content);
  assert.deepEqual(body('post /api/submit'), ['application/json', 'text/plain']);
  assert.deepEqual(body('post /api/submit/batch'), [
    'application/json',
    'text/plain',
    'application/x-ndjson',
  ]);
  const batchJson = doc.paths['/api/submit/batch'].post.requestBody.content['application/json'].schema;
  assert.equal(batchJson.oneOf.length, 2);
  for (const p of ['/api/cmcd', '/api/cmcd/{experiment_id}']) {
    assert.deepEqual(body(`post ${p}`), ['application/cmcd', 'text/cmcd', 'application/json']);
  }
});

test('headers: Content-Encoding on ingest, CMCD-* on the CMCD routes', () => {
  const headers = (p: string, m: string) =>
    (doc.paths[p][m].parameters ?? []).filter((x: Json) => x.in === 'header').map((x: Json) => x.name);
  assert.deepEqual(headers('/api/submit', 'post'), ['Content-Encoding']);
  assert.deepEqual(headers('/api/submit/batch', 'post'), ['Content-Encoding']);
  const cmcd = ['CMCD-Request', 'CMCD-Object', 'CMCD-Status', 'CMCD-Session'];
  assert.deepEqual(headers('/api/cmcd/{experiment_id}', 'get'), cmcd);
  assert.deepEqual(headers('/api/cmcd', 'post'), ['Content-Encoding', ...cmcd]);
});

test('GET /api/metrics: JSON, NDJSON and CSV, and the X-Next-Cursor header', () => {
  const ok = doc.paths['/api/metrics/{experiment_id}'].get.responses['200'];
  assert.deepEqual(Object.keys(ok.content), ['application/json', 'application/x-ndjson', 'text/csv']);
  assert.ok(ok.headers['X-Next-Cursor']);
  assert.deepEqual(ok.content['application/json'].schema.properties.metrics.items, {
    $ref: '#/components/schemas/StoredEvent',
  });
});

test('errors: the shared Error component on 4XX and 5XX of every operation', () => {
  assert.deepEqual(doc.components.schemas.Error.required, ['status', 'code', 'message']);
  for (const { key, op } of operations()) {
    for (const range of ['4XX', '5XX']) {
      assert.deepEqual(
        op.responses[range]?.content?.['application/json']?.schema,
        { $ref: '#/components/schemas/Error' },
        `${key} ${range}`,
      );
    }
    for (const [status, r] of Object.entries(op.responses as Json)) {
      assert.notEqual(r.description, 'Default Response', `${key} ${status}`);
    }
  }
});

test('DELETE needs the bearer token; nothing else does', () => {
  assert.deepEqual(doc.components.securitySchemes.adminToken, {
    type: 'http',
    scheme: 'bearer',
    description: 'ADMIN_TOKEN of the server (Authorization: Bearer <token>)',
  });
  for (const { key, op } of operations()) {
    if (key.startsWith('delete ')) assert.deepEqual(op.security, [{ adminToken: [] }], key);
    else assert.equal(op.security, undefined, key);
  }
});

test('the reference page and all its assets are served locally', async () => {
  const page = await app.inject('/api/docs');
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
  assert.ok(refs.length >= 4, refs.join(' '));
  for (const ref of refs) {
    assert.ok(ref.startsWith('/api/docs/'), `not a local asset: ${ref}`);
    const res = await app.inject(ref);
    assert.equal(res.statusCode, 200, ref);
    assert.ok(res.rawPayload.length > 0, ref);
  }
  // The page loads the document from beside itself.
  const spec = await app.inject('/api/docs/json');
  assert.equal(spec.statusCode, 200);
  assert.equal(spec.json().openapi, doc.openapi);
});
