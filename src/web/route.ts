/**
 * The dashboard: `/` serves the bundled single-page UI and `/ui/<file>` its assets, all from
 * the directory `npm run build:web` writes (dist/ui). Nothing is loaded from elsewhere, so it
 * works offline; a missing bundle answers DASHBOARD_NOT_BUILT telling the user what to run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { apiError } from '../errors.ts';

export interface WebOptions {
  /** Directory holding the built bundle (index.html, app.js, style.css). Default: <repo>/dist/ui. */
  dir?: string;
}

/** Same place from src/web/route.ts (tsx) and dist/web/route.js (built): <repo>/dist/ui. */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/ui');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

// Only our own origin: proves at run time (and in the browser tests) that nothing comes from a CDN.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function send(reply: FastifyReply, body: Buffer, file: string): FastifyReply {
  return reply
    .header('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream')
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(body);
}

export default async function webRoutes(app: FastifyInstance, opts: WebOptions): Promise<void> {
  const dir = opts.dir ?? DEFAULT_WEB_DIR;

  // Read per request (a few small files): a rebuild shows up without restarting the server.
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const html = await readOrNull(path.join(dir, 'index.html'));
    if (!html) throw apiError('DASHBOARD_NOT_BUILT');
    return send(reply.header('content-security-policy', CSP), html, 'index.html');
  });

  app.get<{ Params: { file: string } }>('/ui/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params;
    if (!ASSET_NAME.test(file) || file === 'index.html') throw apiError('NOT_FOUND');
    const body = await readOrNull(path.join(dir, file));
    if (!body) {
      const built = await readOrNull(path.join(dir, 'index.html'));
      throw built ? apiError('NOT_FOUND', `No dashboard asset ${file}`) : apiError('DASHBOARD_NOT_BUILT');
    }
    return send(reply, body, file);
  });
}
