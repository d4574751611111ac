/**
 * The store matrix for contract suites: every EventStore implementation, each built fresh and
 * cleaned up after. SQLite uses a real file in a temp dir; MongoDB a real server (MONGO_URL,
 * by default FerretDB started by scripts/run-tests.mjs) with a database of its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { type Config, configFrom } from '../../src/config/index.ts';
import { createStore } from '../../src/store/index.ts';
import type { EventStore } from '../../src/store/types.ts';
import { MONGO_URL, mongoSkip, uniqueDbName } from './env.ts';
import { scaled } from './wait.ts';

export interface StoreFixture {
  name: 'sqlite' | 'mongodb';
  /** false, or why this store's tests skip (never under CI). */
  skip: string | false;
  /** A config selecting this store, pointing at a fresh place to write. */
  config(overrides?: Record<string, string>): Readonly<Config>;
  /** Removes everything the fixture wrote. */
  cleanup(): Promise<void>;
}

export function sqliteFixture(): StoreFixture {
  const dirs: string[] = [];
  return {
    name: 'sqlite',
    skip: false,
    config(overrides = {}) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-test-'));
      dirs.push(dir);
      return configFrom({ STORAGE: 'sqlite', DATA_DIR: dir, ...overrides });
    },
    async cleanup() {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * A connection string with driver options added to its query, e.g. a short
 * serverSelectionTimeoutMS so that a test of an unreachable server does not wait 3 s.
 */
export function mongoUrlWith(url: string, options: Record<string, string | number>): string {
  const query = Object.entries(options)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  if (url.includes('?')) return `${url}&${query}`;
  return /^mongodb(\+srv)?:\/\/[^/]+\//.test(url) ? `${url}?${query}` : `${url}/?${query}`;
}

export function mongoFixture(): StoreFixture {
  const dbs: string[] = [];
  return {
    name: 'mongodb',
    skip: mongoSkip,
    config(overrides = {}) {
      const db = uniqueDbName();
      dbs.push(db);
      return configFrom({
        STORAGE: 'mongodb',
        MONGO_URL: mongoUrlWith(MONGO_URL ?? 'mongodb://127.0.0.1:1/', {
          serverSelectionTimeoutMS: scaled(2000),
        }),
        MONGO_DATABASE: db,
        ...overrides,
      });
    },
    async cleanup() {
      if (!MONGO_URL || dbs.length === 0) return;
      const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: scaled(3000) });
      try {
        for (const db of dbs) await client.db(db).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

export const storeFixtures = (): StoreFixture[] => [sqliteFixture(), mongoFixture()];

/** Builds the store a config names, opened. */
export async function openStore(config: Readonly<Config>): Promise<EventStore> {
  const store = createStore(config);
  await store.open();
  return store;
}
