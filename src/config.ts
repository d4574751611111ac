/**
 * Configuration: the only module that reads process.env. Parsed once into a frozen, typed
 * object; a bad value stops start-up with a message naming the variable.
 */
import os from 'node:os';
import path from 'node:path';

export type StorageKind = 'sqlite' | 'mongodb';

export interface MongoConfig {
  /** Full connection string (MONGO_URL, or built from MONGO_HOST/PORT/USERNAME/PASSWORD). */
  url: string;
  database: string;
  /** How long an operation waits for a reachable server before the request gets a 503. */
  serverSelectionTimeoutMs: number;
  /** A connection silent this long is dropped and its operation fails (503), e.g. a partition. */
  socketTimeoutMs: number;
}

export interface Config {
  host: string;
  port: number;
  storage: StorageKind;
  dataDir: string;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** How long an SQLite write waits for another process's lock before a 503. */
  sqliteBusyTimeoutMs: number;
  mongo: MongoConfig;
  bodyLimit: number;
  corsOrigins: '*' | string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** LOG_FORMAT: `pretty` (readable, pino-pretty), `json`, or `auto` (pretty when stdout is a terminal). */
  logFormat: 'auto' | 'json' | 'pretty';
  adminToken: string | undefined;
  allowUnauthenticatedAdmin: boolean;
  /** Bearer token GET /metrics requires (METRICS_TOKEN); unset: the endpoint is open. */
  metricsToken: string | undefined;
  /** HTTP worker processes (node:cluster) sharing the port; 1 = no cluster. */
  workers: number;
  ingest: {
    /** Coalesce concurrent requests into one bulk write (group commit). */
    enabled: boolean;
    /** Flush a group when it holds this many events. */
    maxBatchEvents: number;
    /** ... or when its oldest event has waited this long (0: as soon as no write is in flight). */
    maxDelayMs: number;
    /** Events accepted but not yet committed; beyond this, 503 + Retry-After. */
    maxQueuedEvents: number;
    /** Group writes in flight at once (GROUP_COMMIT_MAX_INFLIGHT, default 1). */
    maxInflight: number;
    /** Most events one POST /api/submit/batch may hold (more: 413). */
    batchMaxEvents: number;
    /** Body limit of POST /api/submit/batch in bytes, after decompression. */
    batchBodyLimit: number;
    /** Largest event, as characters of its JSON text (INGEST_MAX_EVENT_BYTES; more: 413). */
    maxEventBytes: number;
    /** Most CMCD reports one request may carry (CMCD_MAX_REPORTS; more: 413). */
    cmcdMaxReports: number;
  };
  sessions: {
    /**
     * A silence longer than this (seconds) between events of a session keyed by video_id or
     * payload.session_id starts a new run (a new session); 0 turns the silence rule off.
     */
    splitGapS: number;
    /** A session's QoE is summarised in the background once it has been quiet this long (ms). */
    summarizeAfterMs: number;
  };
  /** Plausibility of event timestamps (Unix seconds); see docs/ingest-limits.md. */
  timestamps: {
    /** TIMESTAMP_CHECK: off accepts any finite timestamp (replays of old or synthetic data). */
    check: boolean;
    /** Earliest accepted timestamp (TIMESTAMP_MIN, default 2000-01-01T00:00:00Z). */
    min: number;
    /** How far ahead of the server clock a timestamp may be (TIMESTAMP_MAX_FUTURE_S). */
    maxFutureS: number;
  };
  /** Byte budget of one page of GET /api/metrics (READ_PAGE_MAX_BYTES): a page ends early past it. */
  readPageMaxBytes: number;
  cmcd: {
    /** CMCD key naming the experiment in reports sent to `/api/cmcd` (no id in the path). */
    experimentKey: string;
    /** Experiment for `/api/cmcd` reports without that key; unset: such reports are rejected. */
    defaultExperiment: string | undefined;
    /** Experiments whose CMCD reports get 410 Gone (CTA-5004: stop sending for this session). */
    closedExperiments: readonly string[];
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true/false, got "${env[name]}"`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Case does not matter (LOG_LEVEL=INFO, SQLITE_SYNCHRONOUS=normal).
  const v = allowed.find((a) => a.toLowerCase() === raw.trim().toLowerCase());
  if (v === undefined) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return v;
}

/** Builds the connection string the Flask server used: credentials against authSource=admin. */
function mongoUrl(env: Env): string {
  const explicit = env.MONGO_URL;
  if (explicit) {
    if (!/^mongodb(\+srv)?:\/\//.test(explicit)) {
      throw new ConfigError('MONGO_URL', 'must start with mongodb:// or mongodb+srv://');
    }
    return explicit;
  }
  const host = str(env, 'MONGO_HOST', 'mongo');
  const port = int(env, 'MONGO_PORT', 27017, 1, 65535);
  const user = str(env, 'MONGO_USERNAME', 'starlink');
  const pass = str(env, 'MONGO_PASSWORD', 'starlink');
  const authSource = str(env, 'MONGO_AUTH_SOURCE', 'admin');
  const cred = `${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`;
  return `mongodb://${cred}${host}:${port}/?authSource=${encodeURIComponent(authSource)}`;
}

/** The database named in a connection string's path, if any (mongodb://h/db?x). */
function databaseFromUrl(url: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

function storageKind(env: Env): StorageKind {
  const explicit = env.STORAGE?.trim().toLowerCase();
  if (explicit === 'sqlite' || explicit === 'mongodb') return explicit;
  if (explicit === 'mongo') return 'mongodb';
  if (explicit) throw new ConfigError('STORAGE', `expected sqlite or mongodb, got "${env.STORAGE}"`);
  // The testbed's compose file sets MONGO_HOST and nothing else: keep it on MongoDB.
  return env.MONGO_URL || env.MONGO_HOST ? 'mongodb' : 'sqlite';
}

function corsOrigins(env: Env): '*' | string[] {
  const raw = str(env, 'CORS_ORIGINS', '*').trim();
  if (raw === '*') return '*';
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of list) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new ConfigError('CORS_ORIGINS', `"${o}" is not an origin like https://player.example.org`);
    }
  }
  return list;
}

/** WORKERS: a count, or "auto" for one per available core. */
function workers(env: Env): number {
  if (env.WORKERS?.trim().toLowerCase() === 'auto') return os.availableParallelism();
  return int(env, 'WORKERS', 1, 1, 256);
}

const EXPERIMENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;
/** An RFC 8941 key as CMCD uses them: lower case, digits, "_", "-", ".", "*". */
const CMCD_KEY = /^[a-z*][a-z0-9_\-.*]{0,63}$/;

function cmcdConfig(env: Env): Config['cmcd'] {
  const experimentKey = str(env, 'CMCD_EXPERIMENT_KEY', 'stats-experiment').trim();
  if (!CMCD_KEY.test(experimentKey)) {
    throw new ConfigError(
      'CMCD_EXPERIMENT_KEY',
      `"${experimentKey}" is not a CMCD key (e.g. com.example-experiment)`,
    );
  }
  const defaultExperiment = env.CMCD_DEFAULT_EXPERIMENT?.trim() || undefined;
  if (defaultExperiment !== undefined && !EXPERIMENT_ID.test(defaultExperiment)) {
    throw new ConfigError('CMCD_DEFAULT_EXPERIMENT', `"${defaultExperiment}" is not a valid experiment id`);
  }
  const closedExperiments = str(env, 'CMCD_CLOSED_EXPERIMENTS', '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of closedExperiments) {
    if (!EXPERIMENT_ID.test(id)) {
      throw new ConfigError('CMCD_CLOSED_EXPERIMENTS', `"${id}" is not a valid experiment id`);
    }
  }
  return { experimentKey, defaultExperiment, closedExperiments };
}

/** Parses the environment into a frozen Config. Throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const url = mongoUrl(env);
  const storage = storageKind(env);
  const config: Config = {
    host: str(env, 'SERVER_HOST', '0.0.0.0'),
    // PORT (what most hosts set) is read too; SERVER_PORT, the testbed's name, wins.
    port: env.SERVER_PORT ? int(env, 'SERVER_PORT', 8000, 0, 65535) : int(env, 'PORT', 8000, 0, 65535),
    storage,
    dataDir: path.resolve(str(env, 'DATA_DIR', './data')),
    sqliteSynchronous: oneOf(env, 'SQLITE_SYNCHRONOUS', 'FULL', ['FULL', 'NORMAL'] as const),
    sqliteBusyTimeoutMs: int(env, 'SQLITE_BUSY_TIMEOUT_MS', 5000, 0, 600_000),
    mongo: {
      url,
      database: env.MONGO_DATABASE || databaseFromUrl(url) || 'testbed',
      serverSelectionTimeoutMs: int(env, 'MONGO_TIMEOUT_MS', 3000, 100, 600_000),
      socketTimeoutMs: int(env, 'MONGO_SOCKET_TIMEOUT_MS', 30_000, 100, 3_600_000),
    },
    bodyLimit: int(env, 'BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    corsOrigins: corsOrigins(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    logFormat: oneOf(env, 'LOG_FORMAT', 'auto', ['auto', 'json', 'pretty'] as const),
    adminToken: env.ADMIN_TOKEN || undefined,
    allowUnauthenticatedAdmin: bool(env, 'ALLOW_UNAUTHENTICATED_ADMIN', false),
    metricsToken: env.METRICS_TOKEN || undefined,
    workers: workers(env),
    ingest: {
      enabled: bool(env, 'GROUP_COMMIT', true),
      maxBatchEvents: int(env, 'GROUP_COMMIT_MAX_EVENTS', 1000, 1, 100_000),
      // SQLite: the write in flight is the only wait (a timer only delayed an idle writer:
      // ~15 % fewer events/s in BENCHMARKS.md); MongoDB: 2 ms lets a group form.
      maxDelayMs: int(env, 'GROUP_COMMIT_MAX_DELAY_MS', storage === 'sqlite' ? 0 : 2, 0, 1000),
      maxQueuedEvents: int(env, 'INGEST_MAX_QUEUED_EVENTS', 100_000, 1, 10_000_000),
      maxInflight: int(env, 'GROUP_COMMIT_MAX_INFLIGHT', 1, 1, 64),
      batchMaxEvents: int(env, 'INGEST_BATCH_MAX_EVENTS', 5000, 1, 1_000_000),
      batchBodyLimit: int(env, 'INGEST_BATCH_BODY_LIMIT', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      // At most 4 MiB: counted as JSON characters, such an event stays under MongoDB's 16 MiB
      // document limit even as 3-byte UTF-8 text or BSON arrays of numbers.
      maxEventBytes: int(env, 'INGEST_MAX_EVENT_BYTES', 256 * 1024, 1024, 4 * 1024 * 1024),
      cmcdMaxReports: int(env, 'CMCD_MAX_REPORTS', 1000, 1, 1_000_000),
    },
    sessions: {
      splitGapS: int(env, 'SESSION_SPLIT_GAP_S', 600, 0, 365 * 86400),
      summarizeAfterMs: int(env, 'SESSION_SUMMARIZE_AFTER_MS', 2000, 0, 7 * 86_400_000),
    },
    timestamps: {
      check: bool(env, 'TIMESTAMP_CHECK', true),
      min: int(env, 'TIMESTAMP_MIN', 946_684_800, 0, 99_999_999_999),
      maxFutureS: int(env, 'TIMESTAMP_MAX_FUTURE_S', 86_400, 0, 100 * 365 * 86_400),
    },
    readPageMaxBytes: int(env, 'READ_PAGE_MAX_BYTES', 16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    cmcd: cmcdConfig(env),
  };
  if (!env.CMCD_MAX_REPORTS) {
    config.ingest.cmcdMaxReports = Math.min(config.ingest.cmcdMaxReports, config.ingest.maxQueuedEvents);
  }
  if (config.ingest.cmcdMaxReports > config.ingest.maxQueuedEvents) {
    throw new ConfigError(
      'CMCD_MAX_REPORTS',
      `must not exceed INGEST_MAX_QUEUED_EVENTS (${config.ingest.maxQueuedEvents}), or such a request could never be accepted`,
    );
  }
  if (config.ingest.batchMaxEvents > config.ingest.maxQueuedEvents) {
    throw new ConfigError(
      'INGEST_BATCH_MAX_EVENTS',
      `must not exceed INGEST_MAX_QUEUED_EVENTS (${config.ingest.maxQueuedEvents}), or such a batch could never be accepted`,
    );
  }
  return deepFreeze(config);
}

/** A config for tests and embedding: defaults (embedded store) with overrides. */
export function configFrom(overrides: Env = {}): Readonly<Config> {
  // Tests and embedders replay synthetic timelines (t = 1, 2, 3 s): the plausibility check is
  // opt-in here (TIMESTAMP_CHECK=on), on by default for a server started from the environment.
  return loadConfig({ LOG_LEVEL: 'silent', TIMESTAMP_CHECK: 'off', ...overrides });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
