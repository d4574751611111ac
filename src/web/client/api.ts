/** The read API as the dashboard sees it (shapes from BRIEF's contract), and URL builders. */

export interface ExperimentSummary {
  experiment_id: string;
  count: number;
  first_timestamp: number | null;
  last_timestamp: number | null;
  event_types: string[];
  sessions: number;
}

export interface SessionSummary {
  session_id: string;
  source: 'session_id' | 'video_id';
  count: number;
  first_timestamp: number;
  last_timestamp: number;
  video_id: string;
  protocol: string;
}

export interface Stall {
  start: number;
  end: number | null;
  duration_s: number | null;
}

export interface Switch {
  timestamp: number;
  from_bps: number | null;
  to_bps: number | null;
}

export interface SessionQoe {
  session_id: string;
  video_id: string;
  protocol: string;
  startup_time_s: number | null;
  stall_count: number | null;
  stall_time_s: number | null;
  rebuffering_ratio: number | null;
  avg_bitrate_bps: number | null;
  switch_count: number | null;
  latency_avg_s: number | null;
  latency_p95_s: number | null;
  dropped_frames: number | null;
  played_time_s: number | null;
  fatal_error: boolean | null;
  exit_before_start: boolean | null;
  stalls: Stall[];
  switches: Switch[];
}

export interface AggregateStat {
  mean: number | null;
  median: number | null;
  p95: number | null;
  n: number;
}

export interface QoeReply {
  experiment_id: string;
  warmup: Record<string, unknown>;
  sessions: SessionQoe[];
  aggregate: Record<string, AggregateStat | undefined>;
}

export type SeriesMetric = 'bitrate' | 'buffer' | 'latency' | 'throughput';

export interface TimeseriesReply {
  experiment_id: string;
  session_id: string;
  metric: SeriesMetric;
  unit: string;
  points: Array<[number, number | null]>;
}

export interface StoredEvent {
  _id: string;
  timestamp: number;
  event_type: string;
  session_id?: string;
  video_id: string;
  payload: Record<string, unknown>;
  [extra: string]: unknown;
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

const enc = encodeURIComponent;

export const paths = {
  experiments: () => '/api/experiments',
  sessions: (id: string) => `/api/experiments/${enc(id)}/sessions`,
  qoe: (id: string, warmup?: string, session?: string) =>
    apiPath(`/api/experiments/${enc(id)}/qoe`, { warmup, session }),
  timeseries: (id: string, session: string, metric: SeriesMetric, maxPoints = 1000) =>
    apiPath(`/api/experiments/${enc(id)}/timeseries`, { metric, session, max_points: maxPoints }),
  metrics: (id: string, q: Query = {}) => apiPath(`/api/metrics/${enc(id)}`, q),
};

async function getJson<T>(p: string): Promise<T> {
  const res = await fetch(p, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = `${res.status} ${res.statusText} from ${p}`;
    try {
      const body = (await res.json()) as { code?: string; message?: string };
      if (body.code) code = body.code;
      if (body.message) message = `${body.message} (${p})`;
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
