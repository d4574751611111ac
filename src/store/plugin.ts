/**
 * Decorates the app with its EventStore and the group committer in front of it, and closes
 * both on shutdown: queued writes are finished before the store closes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { GroupCommitter } from '../ingest/group-commit.ts';
import type { EventStore } from './types.ts';

export interface StorePluginOptions {
  store: EventStore;
  /** Close the store when the app closes (false when the caller owns it, as tests do). */
  ownsStore: boolean;
}

async function storePlugin(app: FastifyInstance, opts: StorePluginOptions): Promise<void> {
  const { store } = opts;
  await store.open();
  const committer = new GroupCommitter(store, app.config.ingest);
  app.decorate('store', store);
  app.decorate('ingest', committer);
  app.addHook('onClose', async () => {
    await committer.drain();
    if (opts.ownsStore) await store.close();
  });
}

export default fp(storePlugin, { name: 'store' });
