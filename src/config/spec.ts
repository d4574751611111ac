/**
 * Every environment variable the server reads: the one home of its name, kind, default,
 * accepted values and docs line. `loadConfig` (src/config/index.ts) builds the typed Config from it,
 * and `npm run docs:config` writes the table in docs/configuration.md from it (a test fails
 * when the committed table differs, so the docs cannot drift).
 *
 * Adding a variable:
 *   1. an entry here, in its section, e.g.
 *        REQUEST_TIMEOUT_MS: int({ section: 'server', min: 0, max: 600_000, default: 30_000,
 *          doc: 'a request that takes longer is answered `503`' }),
 *   2. its field in the `Config` interface and one line in `loadConfig` (src/config/index.ts),
 *      e.g. `requestTimeoutMs: v.REQUEST_TIMEOUT_MS`,
 *   3. `npm run docs:config`.
 * A new heading is a key in SECTIONS (one without variables is not printed).
 * Kinds: int, bool, oneOf (ignoreCase where harmless), text, optionalText, custom (own parser,
 * throwing ConfigError naming the variable), noEffect. A default may be `{ shows, from }`,
 * computed from other variables (`get('STORAGE')`) when the variable is unset.
 *
 * Folding a variable: move its entry to folded.ts and add `deprecated: 'what to do instead'`.
 * A set value still applies and start-up logs the text once (Config.deprecations); the docs
 * list it apart. `noEffect` is for one that no longer does anything.
 */
import os from 'node:os';
import path from 'node:path';
import { experimentIdRe } from '../events/schema.ts';
import { ConfigError } from './error.ts';
import { FOLDED } from './folded.ts';
import { mongoUrlOption } from './mongo-url.ts';
import { CLIENT_SPEC } from './spec-clients.ts';
import { HTTP_SPEC } from './spec-http.ts';
import { bool, custom, int, oneOf, optionalText, text, type Var, wholeNumber } from './vars.ts';

/** Docs headings, in order; every variable's `section` is one of these keys. */
export const SECTIONS = {
  server: 'Server',
  storage: 'Storage',
  mongodb: 'MongoDB',
  ingest: 'Ingest',
  http: 'HTTP limits and timeouts',
  sessions: 'Sessions',
  cmcd: 'CMCD',
  export: 'Export',
  access: 'Access',
} as const;

export const STORAGE_KINDS = ['sqlite', 'mongodb'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** An RFC 8941 key as CMCD uses them: lower case, digits, "_", "-", ".", "*". */
const CMCD_KEY = /^[a-z*][a-z0-9_\-.*]{0,63}$/;

const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const SPEC = {
  SERVER_HOST: text({ section: 'server', default: '0.0.0.0', doc: 'bind address' }),
  SERVER_PORT: int({
    section: 'server',
    min: 0,
    max: 65535,
    default: 8000,
    aliases: ['PORT'],
    doc: 'port (`PORT` is read when `SERVER_PORT` is unset)',
  }),
  WORKERS: custom<number>({
    section: 'server',
    default: 1,
    accepts: '`1`-`256`, `auto`',
    doc: 'HTTP worker processes on one port (`node:cluster`); `auto` = one per core',
    parse: (raw, name) =>
      raw.trim().toLowerCase() === 'auto' ? os.availableParallelism() : wholeNumber(raw, name, 1, 256),
  }),
  BODY_LIMIT: int({
    section: 'server',
    min: 1024,
    max: 1024 * 1024 * 1024,
    default: 1024 * 1024,
    doc: 'request body limit in bytes (`413` above it)',
  }),
  CORS_ORIGINS: custom<'*' | string[]>({
    section: 'server',
    default: '*',
    accepts: '`*` or origins',
    doc: '`*` or a comma-separated list of origins like `https://player.example.org`',
    parse(raw, name) {
      if (raw.trim() === '*') return '*';
      const origins = list(raw);
      for (const o of origins) {
        if (!/^https?:\/\/[^/\s]+$/.test(o))
          throw new ConfigError(name, `"${o}" is not an origin like https://player.example.org`);
      }
      return origins;
    },
  }),
  LOG_LEVEL: oneOf(LOG_LEVELS, {
    section: 'server',
    default: 'info',
    ignoreCase: true,
    doc: 'pino level (any case); logs never contain bodies or credentials',
  }),
  LOG_FORMAT: oneOf(['auto', 'json', 'pretty'], {
    section: 'server',
    default: 'auto',
    ignoreCase: true,
    doc: '`pretty` (readable), `json`, or `auto`: pretty when stdout is a terminal',
  }),
  READ_PAGE_MAX_BYTES: int({
    section: 'server',
    min: 64 * 1024,
    max: 1024 * 1024 * 1024,
    default: 16 * 1024 * 1024,
    doc: 'byte budget of one page of `GET /api/metrics`: a page ends early past it',
  }),

  STORAGE: custom<(typeof STORAGE_KINDS)[number]>({
    section: 'storage',
    accepts: '`sqlite`, `mongodb`',
    default: {
      shows: '`mongodb` if `MONGO_URL` or `MONGO_HOST` is set, else `sqlite`',
      // The testbed's compose file sets MONGO_HOST and nothing else: keep it on MongoDB.
      from: (_get, env) => (env.MONGO_URL?.trim() || env.MONGO_HOST?.trim() ? 'mongodb' : 'sqlite'),
    },
    doc: 'which store (see [operations.md](operations.md#storage))',
    parse(raw, name) {
      const v = raw.trim().toLowerCase();
      if (v === 'sqlite' || v === 'mongodb') return v;
      if (v === 'mongo') return 'mongodb';
      throw new ConfigError(name, `expected sqlite or mongodb, got "${raw}"`);
    },
  }),
  DATA_DIR: custom<string>({
    section: 'storage',
    accepts: 'a directory',
    default: { shows: '`./data`', from: () => path.resolve('./data') },
    doc: 'where the embedded (SQLite) store keeps its file',
    parse: (raw) => path.resolve(raw),
  }),
  SQLITE_SYNCHRONOUS: oneOf(['FULL', 'NORMAL'], {
    section: 'storage',
    default: 'FULL',
    ignoreCase: true,
    doc: '`FULL`: a `200` survives power loss; `NORMAL`: it survives a process crash',
  }),

  MONGO_URL: custom<string>({
    section: 'mongodb',
    accepts: '`mongodb://...`, `mongodb+srv://...`',
    default: {
      shows: 'built from the five below',
      from: (get) =>
        `mongodb://${encodeURIComponent(get('MONGO_USERNAME') as string)}:${encodeURIComponent(get('MONGO_PASSWORD') as string)}@${get('MONGO_HOST')}:${get('MONGO_PORT')}/?authSource=${encodeURIComponent(get('MONGO_AUTH_SOURCE') as string)}`,
    },
    doc: 'full connection string, overriding the five below; its `serverSelectionTimeoutMS` and `socketTimeoutMS` apply ([MongoDB timeouts](#mongodb-timeouts))',
    parse(raw, name) {
      if (!/^mongodb(\+srv)?:\/\//.test(raw))
        throw new ConfigError(name, 'must start with mongodb:// or mongodb+srv://');
      mongoUrlOption(raw, 'serverSelectionTimeoutMS');
      mongoUrlOption(raw, 'socketTimeoutMS');
      return raw;
    },
  }),
  MONGO_HOST: text({ section: 'mongodb', default: 'mongo', doc: 'host, when `MONGO_URL` is unset' }),
  MONGO_PORT: int({
    section: 'mongodb',
    min: 1,
    max: 65535,
    default: 27017,
    doc: 'port, when `MONGO_URL` is unset',
  }),
  MONGO_USERNAME: text({ section: 'mongodb', default: 'starlink', doc: 'user, when `MONGO_URL` is unset' }),
  MONGO_PASSWORD: text({
    section: 'mongodb',
    default: 'starlink',
    doc: 'password, when `MONGO_URL` is unset',
  }),
  MONGO_AUTH_SOURCE: text({
    section: 'mongodb',
    default: 'admin',
    doc: 'database the user authenticates against (as the testbed does), when `MONGO_URL` is unset',
  }),
  MONGO_DATABASE: text({
    section: 'mongodb',
    default: {
      shows: "the database in `MONGO_URL`'s path, else `testbed`",
      from: (get) => {
        const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(get('MONGO_URL') as string);
        return m?.[1] ? decodeURIComponent(m[1]) : 'testbed';
      },
    },
    doc: 'database holding the `metrics-{experiment_id}` collections',
  }),

  GROUP_COMMIT: bool({
    section: 'ingest',
    default: true,
    doc: 'coalesce concurrent requests into one bulk write (see [ingest.md](ingest.md))',
  }),
  INGEST_MAX_QUEUED_EVENTS: int({
    section: 'ingest',
    min: 1,
    max: 10_000_000,
    default: 100_000,
    doc: 'accepted-but-uncommitted events before `503 OVERLOADED`',
  }),
  MAX_EXPERIMENTS: int({
    section: 'ingest',
    min: 0,
    max: 100_000_000,
    default: {
      shows: '`10000` on MongoDB, `0` (no cap) on SQLite',
      from: (get) => (get('STORAGE') === 'mongodb' ? 10_000 : 0),
    },
    doc: 'most experiments the store may hold; an event that would start one more is refused (`403 EXPERIMENT_LIMIT`). On MongoDB each experiment is a collection with indexes',
  }),
  NEW_EXPERIMENTS_PER_MINUTE: int({
    section: 'ingest',
    min: 0,
    max: 1_000_000,
    default: {
      shows: '`60` on MongoDB, `0` (no limit) on SQLite',
      from: (get) => (get('STORAGE') === 'mongodb' ? 60 : 0),
    },
    doc: 'new experiments one server process starts per minute; more are refused with `429 NEW_EXPERIMENT_RATE` and `Retry-After`',
  }),
  INGEST_BATCH_MAX_EVENTS: int({
    section: 'ingest',
    min: 1,
    max: 1_000_000,
    default: 5000,
    doc: 'most events in one `POST /api/submit/batch` (`413` above); at most `INGEST_MAX_QUEUED_EVENTS`',
  }),
  INGEST_BATCH_BODY_LIMIT: int({
    section: 'ingest',
    min: 1024,
    max: 1024 * 1024 * 1024,
    default: 8 * 1024 * 1024,
    doc: 'batch body limit in bytes, after decompression (`413` above)',
  }),
  INGEST_MAX_EVENT_BYTES: int({
    section: 'ingest',
    min: 1024,
    // At most 4 MiB: counted as JSON characters, such an event stays under MongoDB's 16 MiB
    // document limit even as 3-byte UTF-8 text or BSON arrays of numbers.
    max: 4 * 1024 * 1024,
    default: 256 * 1024,
    doc: 'largest event, as characters of its JSON text (`413` above)',
  }),
  CMCD_MAX_REPORTS: int({
    section: 'ingest',
    min: 1,
    max: 1_000_000,
    default: {
      shows: '`1000` (at most `INGEST_MAX_QUEUED_EVENTS`)',
      from: (get) => Math.min(1000, get('INGEST_MAX_QUEUED_EVENTS') as number),
    },
    doc: 'most CMCD reports one request may carry (`413` above); at most `INGEST_MAX_QUEUED_EVENTS`',
  }),
  TIMESTAMP_CHECK: bool({
    section: 'ingest',
    default: true,
    doc: 'refuse implausible event timestamps; off accepts any finite one (replays of old or synthetic data); see [ingest-limits.md](ingest-limits.md)',
  }),
  TIMESTAMP_MIN: int({
    section: 'ingest',
    min: 0,
    max: 99_999_999_999,
    default: 946_684_800,
    doc: 'earliest accepted timestamp, Unix seconds (default 2000-01-01T00:00:00Z)',
  }),
  TIMESTAMP_MAX_FUTURE_S: int({
    section: 'ingest',
    min: 0,
    max: 100 * 365 * 86_400,
    default: 86_400,
    doc: 'how far (s) ahead of the server clock a timestamp may be',
  }),

  SESSION_SPLIT_GAP_S: int({
    section: 'sessions',
    min: 0,
    max: 365 * 86400,
    default: 600,
    doc: 'silence (s) that starts a new run of a session keyed by video_id ([sessions](sessions.md)); `0`: never',
  }),
  SESSION_SUMMARIZE_AFTER_MS: int({
    section: 'sessions',
    min: 0,
    max: 7 * 86_400_000,
    default: 2000,
    doc: "a changed session's QoE is recomputed in the background once quiet this long",
  }),

  CMCD_EXPERIMENT_KEY: custom<string>({
    section: 'cmcd',
    default: 'stats-experiment',
    accepts: 'a CMCD key',
    doc: 'CMCD key naming the experiment in reports to `/api/cmcd` (see [cmcd.md](cmcd.md))',
    parse(raw, name) {
      const key = raw.trim();
      if (!CMCD_KEY.test(key))
        throw new ConfigError(name, `"${key}" is not a CMCD key (e.g. com.example-experiment)`);
      return key;
    },
  }),
  CMCD_DEFAULT_EXPERIMENT: custom<string | undefined>({
    section: 'cmcd',
    default: undefined,
    accepts: 'an experiment id',
    doc: 'experiment for `/api/cmcd` reports without that key (unset: they are refused)',
    parse(raw, name) {
      const id = raw.trim();
      if (!experimentIdRe.test(id)) throw new ConfigError(name, `"${id}" is not a valid experiment id`);
      return id;
    },
  }),
  CMCD_CLOSED_EXPERIMENTS: custom<string[]>({
    section: 'cmcd',
    default: [],
    accepts: 'experiment ids',
    doc: 'comma-separated experiments answered `410 Gone` on `/api/cmcd`',
    parse(raw, name) {
      const ids = list(raw);
      for (const id of ids) {
        if (!experimentIdRe.test(id)) throw new ConfigError(name, `"${id}" is not a valid experiment id`);
      }
      return ids;
    },
  }),

  ADMIN_TOKEN: optionalText({
    section: 'access',
    doc: 'bearer token for admin endpoints (see [api.md](api.md#delete-apiexperimentsid))',
  }),
  ALLOW_UNAUTHENTICATED_ADMIN: bool({
    section: 'access',
    default: false,
    doc: 'allow admin endpoints without `ADMIN_TOKEN`',
  }),
  METRICS_TOKEN: optionalText({
    section: 'access',
    doc: 'bearer token `GET /metrics` requires (unset: open)',
  }),

  ...HTTP_SPEC,
  ...CLIENT_SPEC,
  ...FOLDED,
} satisfies Record<string, Var<unknown>>;

export type VarName = keyof typeof SPEC;
/** The parsed value of each variable. */
export type Values = { [K in VarName]: (typeof SPEC)[K] extends Var<infer T> ? T : never };
