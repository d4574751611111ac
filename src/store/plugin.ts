/** Decorates the app with its EventStore, opened at start and closed on shutdown. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { EventStore } from './types.ts';

export interface StorePluginOptions {
  store: EventStore;
  /** Close the store when the app closes (false when the caller owns it, as tests do). */
  ownsStore: boolean;
}

async function storePlugin(app: FastifyInstance, opts: StorePluginOptions): Promise<void> {
  const { store } = opts;
  await store.open();
  app.decorate('store', store);
  if (opts.ownsStore) app.addHook('onClose', async () => store.close());
}

export default fp(storePlugin, { name: 'store' });
