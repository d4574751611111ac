/**
 * The group committer in front of the store (group-commit.ts), as `app.ingest`, and the limit
 * on new experiments (experiment-gate.ts), as `app.experimentGate`. Registered
 * after the store plugin, so on shutdown queued writes finish before the store closes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ExperimentGate } from './experiment-gate.ts';
import { GroupCommitter } from './group-commit.ts';

async function ingestPlugin(app: FastifyInstance): Promise<void> {
  const committer = new GroupCommitter(app.store, app.config.ingest);
  app.decorate('ingest', committer);
  app.decorate('experimentGate', new ExperimentGate(app.store, app.config.ingest));
  app.addHook('onClose', async () => committer.drain());
}

export default fp(ingestPlugin, { name: 'ingest', dependencies: ['store'] });
