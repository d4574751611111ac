/**
 * GET /sdk/reporter.js (classic script, global StatsReporter) and /sdk/reporter.mjs (ESM):
 * the browser reporter built from packages/reporter by `npm run build`, so a player page can
 * load it with one script tag from the server it reports to.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { apiError } from '../errors.ts';

/** packages/reporter/dist, from src/sdk (tsx) or dist/sdk (built): both two levels below the root. */
export const SDK_DIST = new URL('../../packages/reporter/dist/', import.meta.url);

// A Map, not an object literal: `constructor` or `__proto__` must not find a "file".
const FILES = new Map([
  ['reporter.js', 'reporter.js'],
  ['reporter.mjs', 'reporter.mjs'],
]);

interface Cached {
  mtimeMs: number;
  body: Buffer;
  etag: string;
}

export interface SdkRouteOptions {
  /** Where the built bundles are (default SDK_DIST). */
  dir?: URL;
}

const sdkRoutes: FastifyPluginAsync<SdkRouteOptions> = async (app, opts) => {
  const dir = opts.dir ?? SDK_DIST;
  const cache = new Map<string, Cached>();

  /** The file's bytes, re-read only when it changed on disk (a rebuild). */
  async function load(name: string): Promise<Cached | undefined> {
    const url = new URL(name, dir);
    let mtimeMs: number;
    try {
      mtimeMs = (await fs.stat(url)).mtimeMs;
    } catch {
      return undefined;
    }
    const hit = cache.get(name);
    if (hit && hit.mtimeMs === mtimeMs) return hit;
    const body = await fs.readFile(url);
    const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
    const entry = { mtimeMs, body, etag };
    cache.set(name, entry);
    return entry;
  }

  app.get<{ Params: { file: string } }>('/:file', { schema: { hide: true } }, async (request, reply) => {
    const name = FILES.get(request.params.file);
    if (!name)
      throw apiError('NOT_FOUND', `No SDK file ${request.params.file}; try reporter.js or reporter.mjs`);
    const file = await load(name);
    if (!file) throw apiError('SDK_NOT_BUILT');
    reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .header('etag', file.etag);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  });
};

export default sdkRoutes;
