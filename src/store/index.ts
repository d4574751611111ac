/** Picks the store named by config; the rest of the app sees only EventStore. */
import path from 'node:path';
import type { Config } from '../config/index.ts';
import { MongoStore } from './mongo/index.ts';
import { SqliteStore } from './sqlite/index.ts';
import type { EventStore } from './types.ts';

export const SQLITE_FILE = 'stats.db';

export function createStore(config: Readonly<Config>): EventStore {
  if (config.storage === 'mongodb')
    return new MongoStore({ ...config.mongo, sessionGapS: config.sessions.splitGapS });
  return new SqliteStore({
    file: path.join(config.dataDir, SQLITE_FILE),
    synchronous: config.sqliteSynchronous,
    busyTimeoutMs: config.sqliteBusyTimeoutMs,
    sessionGapS: config.sessions.splitGapS,
  });
}

/** Where a command reads from, for messages (never a password). */
export function storeLabel(config: Readonly<Config>): string {
  if (config.storage === 'sqlite') return path.join(config.dataDir, SQLITE_FILE);
  try {
    const u = new URL(config.mongo.url);
    return `MongoDB ${u.host} database ${config.mongo.database}`;
  } catch {
    return `MongoDB database ${config.mongo.database}`;
  }
}
