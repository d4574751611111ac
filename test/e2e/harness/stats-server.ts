/**
 * The stats-server under test: the real app (buildApp) on a loopback port with a real SQLite
 * store in a temp dir, plus a switch that makes the submit endpoints answer 503 + Retry-After
 * for a while (a simulated outage, before anything is stored). Also builds the reporter bundle
 * the app serves at /sdk/reporter.js when it is missing or older than its sources.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.ts';
import { configFrom } from '../../../src/config/index.ts';
import type { StoredEvent } from '../../../src/events/schema.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const REPORTER = path.join(ROOT, 'packages/reporter');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** Builds packages/reporter/dist unless it is newer than every source file (event names included). */
export function ensureReporterBuilt(): void {
  const out = path.join(REPORTER, 'dist/reporter.js');
  const built = fs.statSync(out, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const names = fs.statSync(path.join(ROOT, 'packages/events/dist/index.js')).mtimeMs;
  if (built > Math.max(newestMtime(path.join(REPORTER, 'src')), names)) return;
  const lock = path.join(os.tmpdir(), 'stats-e2e-reporter-build.lock');
  const r = spawnSync('flock', [lock, process.execPath, path.join(REPORTER, 'build.mjs'), '--no-types'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('building packages/reporter failed');
}

export interface StatsServer {
  /** http://127.0.0.1:port */
  url: string;
  app: FastifyInstance;
  /** Submit endpoints answer 503 with Retry-After: retryAfterS for the next ms milliseconds. */
  outage(ms: number, retryAfterS?: number): void;
  /** How many submit requests the outage turned away. */
  readonly refused: number;
  /** Every stored event of an experiment, oldest first (through GET /api/metrics/:id). */
  events(experimentId: string): Promise<StoredEvent[]>;
  close(): Promise<void>;
}

export async function startStatsServer(): Promise<StatsServer> {
  ensureReporterBuilt();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-e2e-data-'));
  const app = await buildApp(configFrom({ STORAGE: 'sqlite', DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  let downUntil = 0;
  let retryAfter = 1;
  let refused = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (Date.now() < downUntil && request.method === 'POST' && request.url.startsWith('/api/submit')) {
      refused += 1;
      return reply
        .code(503)
        .header('retry-after', String(retryAfter))
        .send({ status: 'error', code: 'STORE_UNAVAILABLE', message: 'simulated outage (e2e test)' });
    }
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    outage(ms, retryAfterS = 1) {
      downUntil = Date.now() + ms;
      retryAfter = retryAfterS;
    },
    get refused() {
      return refused;
    },
    async events(experimentId) {
      const res = await app.inject({ method: 'GET', url: `/api/metrics/${experimentId}` });
      if (res.statusCode === 404) return [];
      if (res.statusCode !== 200)
        throw new Error(`GET /api/metrics/${experimentId}: ${res.statusCode} ${res.body}`);
      return res.json().metrics as StoredEvent[];
    },
    async close() {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
