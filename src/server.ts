/** The process: parse config, build the app, listen, and shut down cleanly on signals. */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';

/** Starts listening; resolves with the app once the port is bound. */
export async function startServer(config: Readonly<Config>): Promise<FastifyInstance> {
  const app = await buildApp(config);
  app.log.info(
    { storage: config.storage, dataDir: config.storage === 'sqlite' ? config.dataDir : undefined },
    'starting stats-server',
  );
  await app.listen({ host: config.host, port: config.port });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests and writes');
    // Stop accepting, let in-flight requests finish (their writes commit), then close stores.
    const force = setTimeout(() => {
      app.log.error('shutdown took over 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    app.close().then(
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
