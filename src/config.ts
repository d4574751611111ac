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
  /** SQLite writes (and their fsync) on a worker thread, off the event loop. */
  sqliteWriteThread: boolean;
  mongo: MongoConfig;
  bodyLimit: number;
  corsOrigins: '*' | string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  adminToken: string | undefined;
  allowUnauthenticatedAdmin: boolean;
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
  };
  /** Slow clients and connection limits (every value in ms unless named otherwise). */
  http: {
    /** The whole request (headers and body) must arrive within this (Node requestTimeout). */
    requestTimeoutMs: number;
    /** The request headers must arrive within this (Node headersTimeout). */
    headersTimeoutMs: number;
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: number;
    /** A socket with no traffic either way for this long is destroyed (stalled uploads, unread responses). */
    idleTimeoutMs: number;
    /** A body still arriving after bodyGraceMs must average at least this many bytes/s. */
    bodyMinBytesPerSec: number;
    bodyGraceMs: number;
    /** Open connections per process; beyond this, new connections are dropped. */
    maxConnections: number;
    /** On SIGTERM, connections still mid-request after this are destroyed. */
    shutdownGraceMs: number;
  };
  /** Access control: "open" (lab LAN, the default) or "public" (keys, tokens, limits). */
  security: {
    profile: 'open' | 'public';
    /** Keys accepted on ingest routes (public profile). */
    ingestKeys: readonly string[];
    /** The token every data read needs (public profile). */
    readToken: string | undefined;
    /** Requests per client IP per window (0: no limit). */
    rateLimitPerIp: number;
    /** Requests per ingest key per window (0: no limit). */
    rateLimitPerKey: number;
    rateLimitWindowMs: number;
    /** Security headers (helmet) on every reply. */
    headers: boolean;
    /** Which proxies' X-Forwarded-For to believe for the client IP (Fastify trustProxy). */
    trustProxy: boolean | number | string[];
  };
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
  const v = raw.trim() as T;
  if (!allowed.includes(v))
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
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

function httpConfig(env: Env): Config['http'] {
  const requestTimeoutMs = int(env, 'HTTP_REQUEST_TIMEOUT_MS', 60_000, 100, 3_600_000);
  const headersTimeoutMs = int(
    env,
    'HTTP_HEADERS_TIMEOUT_MS',
    Math.min(20_000, requestTimeoutMs),
    100,
    600_000,
  );
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 10_000, 100, 600_000),
    idleTimeoutMs: int(env, 'HTTP_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
    bodyMinBytesPerSec: int(env, 'HTTP_BODY_MIN_BYTES_PER_S', 1024, 0, 1024 * 1024 * 1024),
    bodyGraceMs: int(env, 'HTTP_BODY_GRACE_MS', 10_000, 0, 600_000),
    maxConnections: int(env, 'HTTP_MAX_CONNECTIONS', 5000, 1, 1_000_000),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 5000, 0, 60_000),
  };
}

function list(env: Env, name: string): string[] {
  return str(env, name, '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function securityConfig(env: Env, corsOrigins: Config['corsOrigins']): Config['security'] {
  const profile = oneOf(env, 'SECURITY_PROFILE', 'open', ['open', 'public'] as const);
  const pub = profile === 'public';
  const ingestKeys = list(env, 'INGEST_KEYS');
  const readToken = env.READ_TOKEN || undefined;
  for (const k of ingestKeys) {
    if (k.length < 16) throw new ConfigError('INGEST_KEYS', 'every key must be at least 16 characters');
  }
  if (readToken !== undefined && readToken.length < 16) {
    throw new ConfigError('READ_TOKEN', 'must be at least 16 characters');
  }
  if (pub) {
    const need = 'is required with SECURITY_PROFILE=public';
    if (ingestKeys.length === 0) throw new ConfigError('INGEST_KEYS', need);
    if (!readToken) throw new ConfigError('READ_TOKEN', need);
    if (corsOrigins === '*') {
      throw new ConfigError('CORS_ORIGINS', `${need} (a list of origins, not "*")`);
    }
  }
  return {
    profile,
    ingestKeys,
    readToken,
    rateLimitPerIp: int(env, 'RATE_LIMIT_PER_IP', pub ? 600 : 0, 0, 100_000_000),
    rateLimitPerKey: int(env, 'RATE_LIMIT_PER_KEY', pub ? 60_000 : 0, 0, 100_000_000),
    rateLimitWindowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
    headers: bool(env, 'SECURITY_HEADERS', pub),
    trustProxy: trustProxy(env),
  };
}

/** TRUST_PROXY: false (default), true, a hop count, or a comma-separated list of addresses/CIDRs. */
function trustProxy(env: Env): Config['security']['trustProxy'] {
  const raw = env.TRUST_PROXY?.trim().toLowerCase();
  if (raw === undefined || raw === '') return false;
  if (/^\d+$/.test(raw)) return int(env, 'TRUST_PROXY', 0, 0, 100);
  if (['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'].includes(raw))
    return bool(env, 'TRUST_PROXY', false);
  const items = list(env, 'TRUST_PROXY');
  for (const a of items) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a)) {
      throw new ConfigError('TRUST_PROXY', `"${a}" is not an address or CIDR (or use true / a hop count)`);
    }
  }
  return items;
}

/** Parses the environment into a frozen Config. Throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const url = mongoUrl(env);
  const storage = storageKind(env);
  const config: Config = {
    host: str(env, 'SERVER_HOST', '0.0.0.0'),
    port: int(env, 'SERVER_PORT', 8000, 0, 65535),
    storage,
    dataDir: path.resolve(str(env, 'DATA_DIR', './data')),
    sqliteSynchronous: oneOf(env, 'SQLITE_SYNCHRONOUS', 'FULL', ['FULL', 'NORMAL'] as const),
    sqliteBusyTimeoutMs: int(env, 'SQLITE_BUSY_TIMEOUT_MS', 5000, 0, 600_000),
    sqliteWriteThread: bool(env, 'SQLITE_WRITE_THREAD', true),
    mongo: {
      url,
      database: env.MONGO_DATABASE || databaseFromUrl(url) || 'testbed',
      serverSelectionTimeoutMs: int(env, 'MONGO_TIMEOUT_MS', 3000, 100, 600_000),
      socketTimeoutMs: int(env, 'MONGO_SOCKET_TIMEOUT_MS', 30_000, 100, 3_600_000),
    },
    bodyLimit: int(env, 'BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    corsOrigins: corsOrigins(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    adminToken: env.ADMIN_TOKEN || undefined,
    allowUnauthenticatedAdmin: bool(env, 'ALLOW_UNAUTHENTICATED_ADMIN', false),
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
    },
    http: httpConfig(env),
    security: securityConfig(env, corsOrigins(env)),
    cmcd: cmcdConfig(env),
  };
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
  return loadConfig({ LOG_LEVEL: 'silent', ...overrides });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
