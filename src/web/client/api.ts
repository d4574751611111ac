/** The read API as the dashboard sees it (shapes as docs/api.md describes them), and URL builders. */

// The server's own types (type-only imports: nothing of the server is bundled).
export type { StoredEvent } from '../../events/schema.ts';
export type { TimeseriesMetric as SeriesMetric } from '../../qoe/timeseries.ts';
export type { SessionQoe, Stall, Summary as AggregateStat, Switch } from '../../qoe/types.ts';
export type { QoeTableRow } from '../../query/qoe-table.ts';
export type { ExperimentSummary, SessionSummary } from '../../store/types.ts';

import type { StoredEvent } from '../../events/schema.ts';
import type { TimeseriesMetric as SeriesMetric } from '../../qoe/timeseries.ts';
import type { Summary as AggregateStat } from '../../qoe/types.ts';
import type { QoeTableRow } from '../../query/qoe-table.ts';
import type { ExperimentSummary, SessionSummary } from '../../store/types.ts';

export interface QoeReply {
  experiment_id: string;
  warmup: Record<string, unknown>;
  /** Each session's QoE with its run number (by first event) and start. */
  sessions: QoeTableRow[];
  aggregate: Record<string, AggregateStat | undefined>;
}

export interface TimeseriesReply {
  experiment_id: string;
  session_id: string;
  metric: SeriesMetric;
  unit: string;
  points: Array<[number, number | null]>;
}

export interface MetricsReply {
  experiment_id: string;
  metrics: StoredEvent[];
  count: number;
  next_cursor?: string;
}

/** An HTTP failure, with the server's error code when it sent one. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

type Query = Record<string, string | number | undefined | null>;

/** A path plus query string, dropping empty values. */
export function apiPath(p: string, q: Query = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${p}?${s}` : p;
}

/** The absolute URL of an API path, for copying into scripts. */
export function absolute(p: string): string {
  return new URL(p, window.location.href).href;
}

/**
 * An experiment id as a path segment. Browsers resolve "." and ".." segments (even as %2E)
 * before sending, so those two ids go with their percent sign escaped (%252E per dot), which
 * the server turns back into dots.
 */
export function encId(id: string): string {
  return id === '.' || id === '..' ? id.replaceAll('.', '%252E') : encodeURIComponent(id);
}

export const paths = {
  experiments: () => '/api/experiments',
  sessions: (id: string) => `/api/experiments/${encId(id)}/sessions`,
  qoe: (id: string, warmup?: string, session?: string) =>
    apiPath(`/api/experiments/${encId(id)}/qoe`, { warmup, session }),
  timeseries: (id: string, session: string, metric: SeriesMetric, maxPoints = 1000) =>
    apiPath(`/api/experiments/${encId(id)}/timeseries`, { metric, session, max_points: maxPoints }),
  metrics: (id: string, q: Query = {}) => apiPath(`/api/metrics/${encId(id)}`, q),
};

// ---- The read token (servers run with SECURITY_PROFILE=public) ----
// Given once as /#read_token=<token>: kept in this tab's sessionStorage (never in the address
// bar, history or server logs: a fragment is not sent) and sent as a header on every read.

const TOKEN_KEY = 'stats-server.read-token';

function takeTokenFromHash(): void {
  const m = /^#read_token=([^&]*)/.exec(window.location.hash);
  if (!m) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1] ?? ''));
  } catch {
    // storage disabled: the token cannot be kept
  }
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/`);
}
takeTokenFromHash();

export function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

/** A path for a plain link (downloads), carrying the read token as ?token= when there is one. */
export function withReadToken(p: string): string {
  const token = readToken();
  if (!token) return p;
  return `${p}${p.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

async function getJson<T>(p: string): Promise<T> {
  const token = readToken();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(p, { headers });
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = `${res.status} ${res.statusText} from ${p}`;
    try {
      const body = (await res.json()) as { code?: string; message?: string };
      if (body.code) code = body.code;
      if (body.message) message = `${body.message} (${p})`;
      if (code === 'READ_TOKEN_REQUIRED') {
        message = 'This server needs a read token: open the dashboard as /#read_token=<READ_TOKEN>';
      }
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiFailure(res.status, code, message);
  }
  return (await res.json()) as T;
}

export const api = {
  experiments: async () =>
    (await getJson<{ experiments: ExperimentSummary[] }>(paths.experiments())).experiments,
  sessions: async (id: string) =>
    (await getJson<{ sessions: SessionSummary[] }>(paths.sessions(id))).sessions,
  qoe: (id: string, warmup?: string, session?: string) => getJson<QoeReply>(paths.qoe(id, warmup, session)),
  timeseries: (id: string, session: string, metric: SeriesMetric) =>
    getJson<TimeseriesReply>(paths.timeseries(id, session, metric)),
  metrics: (id: string, q: Query) => getJson<MetricsReply>(paths.metrics(id, q)),
};
