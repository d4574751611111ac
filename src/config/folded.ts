/**
 * Folded variables: settings that did not earn their place (docs/configuration.md says why).
 * Still read, so a value set still applies, with a warning at start; `noEffect` ones do nothing.
 * Part of the spec (spread into SPEC); delete an entry here to remove the name for good.
 */
import { MONGO_SERVER_SELECTION_TIMEOUT_MS, MONGO_SOCKET_TIMEOUT_MS, mongoUrlOption } from './mongo-url.ts';
import { int, noEffect, type Var } from './vars.ts';

/** How long an SQLite write waits for another process's lock before a 503. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

export const FOLDED = {
  SQLITE_BUSY_TIMEOUT_MS: int({
    section: 'storage',
    min: 0,
    max: 600_000,
    default: SQLITE_BUSY_TIMEOUT_MS,
    doc: "how long a write waits for another process's lock before a `503`",
    deprecated: `the wait is fixed at ${SQLITE_BUSY_TIMEOUT_MS} ms; unset it`,
  }),
  SQLITE_WRITE_THREAD: noEffect({
    section: 'storage',
    doc: 'nothing: SQLite writes always run on a worker thread',
    deprecated: 'unset it',
  }),
  MONGO_TIMEOUT_MS: int({
    section: 'mongodb',
    min: 100,
    max: 600_000,
    default: {
      shows: `\`serverSelectionTimeoutMS\` in \`MONGO_URL\`, else \`${MONGO_SERVER_SELECTION_TIMEOUT_MS}\``,
      from: (get) =>
        mongoUrlOption(get('MONGO_URL') as string, 'serverSelectionTimeoutMS') ??
        MONGO_SERVER_SELECTION_TIMEOUT_MS,
    },
    doc: 'how long a request waits for MongoDB before a `503`',
    deprecated: 'put serverSelectionTimeoutMS=N (ms) in MONGO_URL instead',
  }),
  MONGO_SOCKET_TIMEOUT_MS: int({
    section: 'mongodb',
    min: 100,
    max: 3_600_000,
    default: {
      shows: `\`socketTimeoutMS\` in \`MONGO_URL\`, else \`${MONGO_SOCKET_TIMEOUT_MS}\``,
      from: (get) => mongoUrlOption(get('MONGO_URL') as string, 'socketTimeoutMS') ?? MONGO_SOCKET_TIMEOUT_MS,
    },
    doc: 'a MongoDB connection silent this long is dropped (a partition is a `503`)',
    deprecated: 'put socketTimeoutMS=N (ms) in MONGO_URL instead',
  }),
  GROUP_COMMIT_MAX_EVENTS: int({
    section: 'ingest',
    min: 1,
    max: 100_000,
    default: 1000,
    doc: 'flush a group at this many events',
    deprecated: 'groups are capped at 1000 events; unset it',
  }),
  GROUP_COMMIT_MAX_DELAY_MS: int({
    section: 'ingest',
    min: 0,
    max: 1000,
    default: {
      shows: '`0` (SQLite), `2` (MongoDB)',
      // SQLite: the write in flight is the only wait (a timer only delayed an idle writer:
      // ~15 % fewer events/s in BENCHMARKS.md); MongoDB: 2 ms lets a group form.
      from: (get) => (get('STORAGE') === 'sqlite' ? 0 : 2),
    },
    doc: 'flush a group once its oldest event has waited this long',
    deprecated: 'the wait is 0 ms on SQLite and 2 ms on MongoDB; unset it',
  }),
  GROUP_COMMIT_MAX_INFLIGHT: int({
    section: 'ingest',
    min: 1,
    max: 64,
    default: 1,
    doc: 'group writes in flight at once',
    deprecated: 'one group write is in flight at a time; unset it',
  }),
} satisfies Record<string, Var<unknown>>;
