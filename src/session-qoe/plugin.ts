/**
 * Session summaries on the app: `app.sessions` (the QoE service the read routes use) and the
 * background summariser, stopped before the store closes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SessionQoeService } from './service.ts';
import { Summarizer } from './summarizer.ts';

async function sessionsPlugin(app: FastifyInstance): Promise<void> {
  const service = new SessionQoeService(app.store, { log: app.log });
  const summarizer = new Summarizer(app.store, service, {
    quietMs: app.config.sessions.summarizeAfterMs,
    log: app.log,
  });
  app.decorate('sessions', service);
  app.addHook('onReady', async () => summarizer.start());
  app.addHook('preClose', async () => summarizer.stop());
}

export default fp(sessionsPlugin, { name: 'sessions', dependencies: ['store'] });
