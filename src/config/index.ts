/**
 * Configuration: the only module that reads process.env. Parsed once, from the variables
 * declared in src/config/spec.ts, into a frozen, typed object; a bad value stops start-up with
 * a message naming the variable.
 */
import { ConfigError } from './error.ts';
import { SPEC, type STORAGE_KINDS, type Values } from './spec.ts';
import { type Env, readSpec } from './vars.ts';

export { ConfigError };

export type StorageKind = (typeof STORAGE_KINDS)[number];

export interface MongoConfig {
  /** Full connection string (MONGO_URL, or built from MONGO_HOST/PORT/USERNAME/PASSWORD). */
  url: string;
  database: string;
  /** How long an operation waits for a reachable server before the request gets a 503
   * (MONGO_URL's serverSelectionTimeoutMS, default 3000). */
  serverSelectionTimeoutMs: number;
  /** A connection silent this long is dropped and its operation fails (503), e.g. a partition
   * (MONGO_URL's socketTimeoutMS, default 30000). */
  socketTimeoutMs: number;
}

export interface Config {
  host: string;
  port: number;
  storage: StorageKind;
  dataDir: string;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** How long an SQLite write waits for another process's lock before a 503 (fixed 5000). */
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
    /** Flush a group when it holds this many events (1000). */
    maxBatchEvents: number;
    /** ... or when its oldest event has waited this long (0: as soon as no write is in flight;
     * 0 on SQLite, 2 on MongoDB). */
    maxDelayMs: number;
    /** Events accepted but not yet committed; beyond this, 503 + Retry-After. */
    maxQueuedEvents: number;
    /** Group writes in flight at once (1). */
    maxInflight: number;
    /** Most events one POST /api/submit/batch may hold (more: 413). */
    batchMaxEvents: number;
    /** Body limit of POST /api/submit/batch in bytes, after decompression. */
    batchBodyLimit: number;
    /** Largest event, as characters of its JSON text (INGEST_MAX_EVENT_BYTES; more: 413). */
    maxEventBytes: number;
    /** Most CMCD reports one request may carry (CMCD_MAX_REPORTS; more: 413). */
    cmcdMaxReports: number;
    /** Most experiments the store may hold (MAX_EXPERIMENTS; 0: no cap). */
    maxExperiments: number;
    /** New experiments per minute per process (NEW_EXPERIMENTS_PER_MINUTE; 0: no limit). */
    newExperimentsPerMinute: number;
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
    /** Open connections per client address; 0: no cap (trusted proxies exempt). */
    maxConnectionsPerClient: number;
    /** Requests of one client served at once; 0: no cap (probes and health exempt). */
    maxInFlightPerClient: number;
    /** After a 413, how much more of the body is read and discarded before closing. */
    discardMaxBytes: number;
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
    /** CMCD reports per second per client, in bursts of up to CMCD_MAX_REPORTS; 0: no cap. */
    reportsPerSPerClient: number;
    /** CMCD reports per second per session (sid), in bursts of 10 s worth; 0: no cap. */
    reportsPerSPerSession: number;
  };
  /** Warnings for folded variables that are set (logged once at start by src/server.ts). */
  deprecations: readonly string[];
}

/** Parses the environment into a frozen Config. Throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const { values, deprecations } = readSpec(SPEC, env);
  const v = values as Values;
  const config: Config = {
    host: v.SERVER_HOST,
    port: v.SERVER_PORT,
    storage: v.STORAGE,
    dataDir: v.DATA_DIR,
    sqliteSynchronous: v.SQLITE_SYNCHRONOUS,
    sqliteBusyTimeoutMs: v.SQLITE_BUSY_TIMEOUT_MS,
    mongo: {
      url: v.MONGO_URL,
      database: v.MONGO_DATABASE,
      serverSelectionTimeoutMs: v.MONGO_TIMEOUT_MS,
      socketTimeoutMs: v.MONGO_SOCKET_TIMEOUT_MS,
    },
    bodyLimit: v.BODY_LIMIT,
    corsOrigins: v.CORS_ORIGINS,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    adminToken: v.ADMIN_TOKEN,
    allowUnauthenticatedAdmin: v.ALLOW_UNAUTHENTICATED_ADMIN,
    metricsToken: v.METRICS_TOKEN,
    workers: v.WORKERS,
    ingest: {
      enabled: v.GROUP_COMMIT,
      maxBatchEvents: v.GROUP_COMMIT_MAX_EVENTS,
      maxDelayMs: v.GROUP_COMMIT_MAX_DELAY_MS,
      maxQueuedEvents: v.INGEST_MAX_QUEUED_EVENTS,
      maxInflight: v.GROUP_COMMIT_MAX_INFLIGHT,
      batchMaxEvents: v.INGEST_BATCH_MAX_EVENTS,
      batchBodyLimit: v.INGEST_BATCH_BODY_LIMIT,
      maxEventBytes: v.INGEST_MAX_EVENT_BYTES,
      cmcdMaxReports: v.CMCD_MAX_REPORTS,
      maxExperiments: v.MAX_EXPERIMENTS,
      newExperimentsPerMinute: v.NEW_EXPERIMENTS_PER_MINUTE,
    },
    sessions: {
      splitGapS: v.SESSION_SPLIT_GAP_S,
      summarizeAfterMs: v.SESSION_SUMMARIZE_AFTER_MS,
    },
    timestamps: {
      check: v.TIMESTAMP_CHECK,
      min: v.TIMESTAMP_MIN,
      maxFutureS: v.TIMESTAMP_MAX_FUTURE_S,
    },
    readPageMaxBytes: v.READ_PAGE_MAX_BYTES,
    http: {
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      idleTimeoutMs: v.HTTP_IDLE_TIMEOUT_MS,
      bodyMinBytesPerSec: v.HTTP_BODY_MIN_BYTES_PER_S,
      bodyGraceMs: v.HTTP_BODY_GRACE_MS,
      maxConnections: v.HTTP_MAX_CONNECTIONS,
      shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
      maxConnectionsPerClient: v.HTTP_MAX_CONNECTIONS_PER_CLIENT,
      maxInFlightPerClient: v.HTTP_MAX_IN_FLIGHT_PER_CLIENT,
      discardMaxBytes: v.HTTP_DISCARD_MAX_BYTES,
    },
    security: {
      profile: v.SECURITY_PROFILE,
      ingestKeys: v.INGEST_KEYS,
      readToken: v.READ_TOKEN,
      rateLimitPerIp: v.RATE_LIMIT_PER_IP,
      rateLimitPerKey: v.RATE_LIMIT_PER_KEY,
      rateLimitWindowMs: v.RATE_LIMIT_WINDOW_MS,
      headers: v.SECURITY_HEADERS,
      trustProxy: v.TRUST_PROXY,
    },
    cmcd: {
      experimentKey: v.CMCD_EXPERIMENT_KEY,
      defaultExperiment: v.CMCD_DEFAULT_EXPERIMENT,
      closedExperiments: v.CMCD_CLOSED_EXPERIMENTS,
      reportsPerSPerClient: v.CMCD_REPORTS_PER_S_PER_CLIENT,
      reportsPerSPerSession: v.CMCD_REPORTS_PER_S_PER_SESSION,
    },
    deprecations,
  };
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.http.requestTimeoutMs})`,
    );
  }
  if (config.security.profile === 'public') {
    const need = 'is required with SECURITY_PROFILE=public';
    if (config.security.ingestKeys.length === 0) throw new ConfigError('INGEST_KEYS', need);
    if (!config.security.readToken) throw new ConfigError('READ_TOKEN', need);
    if (config.corsOrigins === '*') {
      throw new ConfigError('CORS_ORIGINS', `${need} (a list of origins, not "*")`);
    }
    if (typeof config.security.trustProxy === 'number' && config.security.trustProxy > 0) {
      throw new ConfigError(
        'TRUST_PROXY',
        "a hop count is refused with SECURITY_PROFILE=public (a client reaching the server directly chooses its own address): list the proxies' addresses or CIDRs",
      );
    }
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
