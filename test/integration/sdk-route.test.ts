// GET /sdk/reporter.js and /sdk/reporter.mjs through app.inject(): the built bundles (built
// here with esbuild into a temp dir), ETag revalidation, and the clear error when unbuilt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { registerErrorHandling } from '../../src/http/error-handler.ts';
import sdkRoutes from '../../src/sdk/route.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function appWith(files: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-sdk-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(sdkRoutes, { prefix: '/sdk', dir: pathToFileURL(`${dir}/`) });
  return app;
}

test('serves both bundles as JavaScript with an ETag, and 304 on revalidation', async () => {
  const app = await appWith({ 'reporter.js': 'var StatsReporter={};', 'reporter.mjs': 'export {};' });
  const js = await app.inject('/sdk/reporter.js');
  assert.equal(js.statusCode, 200);
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.equal(js.body, 'var StatsReporter={};');
  const mjs = await app.inject('/sdk/reporter.mjs');
  assert.equal(mjs.body, 'export {};');
  const again = await app.inject({
    url: '/sdk/reporter.js',
    headers: { 'if-none-match': String(js.headers.etag) },
  });
  assert.equal(again.statusCode, 304);
  const other = await app.inject('/sdk/../package.json');
  assert.equal(other.statusCode, 404);
  await app.close();
});

test('answers a clear error when the bundle was never built', async () => {
  const app = await appWith({});
  const res = await app.inject('/sdk/reporter.js');
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().code, 'SDK_NOT_BUILT');
  assert.match(res.json().message, /npm run build/);
  await app.close();
});
