/**
 * The process: parse config, build the app, listen, and shut down cleanly on signals. With
 * WORKERS=n the primary forks n node:cluster workers that share the port, each with its own
 * store connection and group committer; every guarantee (answer after commit, unique index
 * dedupe, bounded queue) holds per worker, so it holds for the whole.
 */
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config/index.ts';
import { closeWithin } from './http/limits.ts';
import { serveClusterMetrics } from './metrics/cluster.ts';
import { lockDataDir } from './ops/data-dir-lock.ts';
import { createStore } from './store/index.ts';

/** Runs the server: one process, or a cluster primary that forks config.workers workers. */
export async function startProcess(config: Readonly<Config>): Promise<void> {
  // Folded variables still work; say so once per start (the primary, not every worker).
  if (cluster.isPrimary && !['fatal', 'error', 'silent'].includes(config.logLevel)) {
    for (const warning of config.deprecations) log(40, `deprecated configuration: ${warning}`);
  }
  // One server per SQLite file: the process that serves (or the cluster primary, whose workers
  // share the file legitimately) holds DATA_DIR's lock until it exits.
  if (config.storage === 'sqlite' && cluster.isPrimary) {
    await lockDataDir(config.dataDir, (err) => {
      log(50, 'lost the DATA_DIR lock; shutting down', { dataDir: config.dataDir, err: err.message });
      process.kill(process.pid, 'SIGTERM');
    });
  }
  if (config.workers > 1 && cluster.isPrimary) await startPrimary(config);
  else await startServer(config);
}

function log(level: number, msg: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, ...extra, msg })}\n`);
}

async function startPrimary(config: Readonly<Config>): Promise<void> {
  // Create the SQLite schema once, before workers race to do it.
  if (config.storage === 'sqlite') {
    const store = createStore(config);
    await store.open();
    await store.close();
  }
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log(50, 'worker died; starting another in 1 s', { worker: worker.process.pid, code, signal });
    setTimeout(fork, 1000).unref();
  });
  serveClusterMetrics();
  for (let i = 0; i < config.workers; i++) fork();
  log(30, `started ${config.workers} workers`, { workers: config.workers });

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(30, 'shutting down workers', { signal });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), config.http.shutdownGraceMs + 15_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Starts listening; resolves with the app once the port is bound. */
export async function startServer(config: Readonly<Config>): Promise<FastifyInstance> {
  const app = await buildApp(config);
  app.log.info(
    { storage: config.storage, dataDir: config.storage === 'sqlite' ? config.dataDir : undefined },
    'starting stats-server',
  );
  await app.listen({ host: config.host, port: config.port });
  if (config.storage === 'mongodb') watchMongo(app, config);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests and writes');
    // Stop accepting, let in-flight requests finish (their writes commit) for up to the grace
    // period, destroy connections still mid-request (a stalled upload), then close stores.
    const hardLimitMs = config.http.shutdownGraceMs + 10_000;
    const force = setTimeout(() => {
      app.log.error(`shutdown took over ${hardLimitMs / 1000} s; exiting`);
      process.exit(1);
    }, hardLimitMs);
    force.unref();
    closeWithin(app, config.http.shutdownGraceMs).then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return app;
}

/** host:port list of a MongoDB URL, never its credentials. */
export function mongoTarget(url: string): string {
  const m = /^mongodb(\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url);
  return m?.[2] ?? 'MongoDB';
}

/**
 * Says at start whether MongoDB answers, naming host and port (a wrong MONGO_HOST otherwise
 * shows only as 503s), and keeps saying so every 10 s until it does.
 */
function watchMongo(app: FastifyInstance, config: Readonly<Config>): void {
  const target = mongoTarget(config.mongo.url);
  app.log.info({ mongodb: target, database: config.mongo.database }, `connecting to MongoDB at ${target}`);
  const check = async () => {
    const h = await app.store.health();
    if (h.ok) {
      app.log.info({ mongodb: target }, `MongoDB at ${target} is reachable`);
      return;
    }
    // A refused login is reported as such (src/store/mongo/auth.ts), not as "cannot reach".
    const refused = h.detail?.startsWith('authentication to MongoDB');
    app.log.warn(
      { mongodb: target, error: h.detail },
      refused
        ? `${h.detail}; events are refused with 503 until MongoDB accepts the login (check MONGO_URL or MONGO_USERNAME/MONGO_PASSWORD)`
        : `cannot reach MongoDB at ${target} (${h.detail ?? 'no answer'}); events are refused with 503 until it answers`,
    );
    setTimeout(check, 10_000).unref();
  };
  void check();
}
