/** createReporter() options: their types, defaults and validation. */
import { ReporterOptionError } from './errors.ts';

/** An event as sent to stats-server (see docs/events.md). */
export interface ReporterEvent {
  experiment_id: string;
  timestamp: number;
  event_type: string;
  protocol: string;
  video_id: string;
  session_id: string;
  event_id: string;
  payload: Record<string, unknown>;
}

/** Why events were given up: the queue overflowed, the server refused them, or retries ran out. */
export type DropReason = 'queue_full' | 'rejected' | 'retries_exhausted';

export interface ReporterOptions {
  /** Base URL of the stats-server, e.g. "https://stats.example.org" (batches go to /api/submit/batch). */
  endpoint: string;
  experimentId: string;
  /** "dash", "hls", ... */
  protocol: string;
  /** Manifest URL or content id. */
  videoId: string;
  /** One playback session; a random UUID when omitted. */
  sessionId?: string;
  /** Fraction of sessions that report (0..1, default 1), decided once per session id. */
  sampleRate?: number;
  /** Send when this many events are queued (default 50) or the oldest waited maxDelayMs (default 2000). */
  batch?: { maxEvents?: number; maxDelayMs?: number };
  /** Extra request headers. Setting any makes requests JSON with a CORS preflight (and disables sendBeacon). */
  headers?: Record<string, string>;
  /** Most events held while the server is unreachable (default 2000); beyond it the oldest are dropped. */
  maxQueue?: number;
  /** Told about every event given up, with the reason. */
  onDrop?: (events: ReporterEvent[], reason: DropReason) => void;
  /** Retry policy for network errors, 429 and 5xx (defaults: 500 ms base, 30 s cap, 12 attempts). */
  retry?: { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
}

export interface ResolvedOptions {
  url: string;
  experimentId: string;
  protocol: string;
  videoId: string;
  sessionId: string | undefined;
  sampleRate: number;
  maxEvents: number;
  maxDelayMs: number;
  headers: Record<string, string> | undefined;
  maxQueue: number;
  onDrop: ReporterOptions['onDrop'];
  baseDelayMs: number;
  maxBackoffMs: number;
  maxAttempts: number;
}

const EXPERIMENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function fail(option: string, message: string): never {
  throw new ReporterOptionError(option, message);
}

function text(v: unknown, option: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0) fail(option, 'must be a non-empty string');
  if (v.length > max) fail(option, `must be at most ${max} characters`);
  return v;
}

function num(v: unknown, option: string, fallback: number, min: number, max: number, int = true): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || (int && !Number.isInteger(v)))
    fail(option, `must be ${int ? 'a whole number' : 'a number'}`);
  if (v < min || v > max) fail(option, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

/** Checks every option and fills in defaults; throws ReporterOptionError naming the bad one. */
export function resolveOptions(o: ReporterOptions): ResolvedOptions {
  if (!o || typeof o !== 'object') fail('options', 'must be an object');
  const endpoint = text(o.endpoint, 'endpoint', 2048);
  let url: URL;
  try {
    url = new URL(endpoint, globalThis.location?.href);
  } catch {
    fail('endpoint', `is not a URL: "${endpoint}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('endpoint', 'must be an http(s) URL');
  const experimentId = text(o.experimentId, 'experimentId', 128);
  if (!EXPERIMENT_ID.test(experimentId))
    fail('experimentId', 'may only hold letters, digits, "_", "-" and "." (1-128 characters)');
  if (o.sessionId !== undefined) text(o.sessionId, 'sessionId', 128);
  if (o.batch !== undefined && (typeof o.batch !== 'object' || o.batch === null))
    fail('batch', 'must be an object');
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null) fail('headers', 'must be an object');
    for (const [k, v] of Object.entries(o.headers))
      if (typeof v !== 'string') fail(`headers.${k}`, 'must be a string');
  }
  if (o.onDrop !== undefined && typeof o.onDrop !== 'function') fail('onDrop', 'must be a function');
  if (o.retry !== undefined && (typeof o.retry !== 'object' || o.retry === null))
    fail('retry', 'must be an object');
  const headers = o.headers && Object.keys(o.headers).length > 0 ? { ...o.headers } : undefined;
  return {
    url: `${url.href.replace(/\/+$/, '')}/api/submit/batch`,
    experimentId,
    protocol: text(o.protocol, 'protocol', 64),
    videoId: text(o.videoId, 'videoId', 2048),
    sessionId: o.sessionId,
    sampleRate: num(o.sampleRate, 'sampleRate', 1, 0, 1, false),
    maxEvents: num(o.batch?.maxEvents, 'batch.maxEvents', 50, 1, 10_000),
    maxDelayMs: num(o.batch?.maxDelayMs, 'batch.maxDelayMs', 2000, 0, 3_600_000),
    headers,
    maxQueue: num(o.maxQueue, 'maxQueue', 2000, 1, 1_000_000),
    onDrop: o.onDrop,
    baseDelayMs: num(o.retry?.baseDelayMs, 'retry.baseDelayMs', 500, 1, 600_000),
    maxBackoffMs: num(o.retry?.maxDelayMs, 'retry.maxDelayMs', 30_000, 1, 3_600_000),
    maxAttempts: num(o.retry?.maxAttempts, 'retry.maxAttempts', 12, 1, 1000),
  };
}
