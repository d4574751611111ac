/**
 * Per-session series for plotting (bitrate, buffer, latency, throughput, playback rate), downsampled to a
 * bounded number of points by keeping each time bucket's minimum and maximum, so buffer
 * drains and bitrate dips survive downsampling.
 */
import { renditionHistory, type Step } from './rendition.ts';
import { SessionAccumulator } from './session.ts';
import type { QoeEvent, Signal } from './types.ts';

export const TIMESERIES_METRICS = ['bitrate', 'buffer', 'latency', 'throughput', 'playback_rate'] as const;
export type TimeseriesMetric = (typeof TIMESERIES_METRICS)[number];

export const TIMESERIES_UNITS: Record<TimeseriesMetric, string> = {
  bitrate: 'bps',
  buffer: 's',
  latency: 's',
  throughput: 'bps',
  // A multiple of real time: 1 normal speed, 0 halted, above 1 live catch-up.
  playback_rate: 'x',
};

export const DEFAULT_MAX_POINTS = 500;

/** [Unix seconds, value] */
export type Point = [number, number];

export interface Timeseries {
  metric: TimeseriesMetric;
  unit: string;
  points: Point[];
}

/**
 * At most `maxPoints` points: all of them when they fit, else time buckets (half as many as
 * points allowed) each keeping its lowest and highest point in time order.
 */
export function downsample(points: readonly Point[], maxPoints: number): Point[] {
  const max = Math.max(1, Math.floor(maxPoints));
  if (points.length <= max) return [...points];
  if (max === 1) return [points[points.length - 1]!];
  const buckets = Math.floor(max / 2);
  const t0 = points[0]![0];
  const span = points[points.length - 1]![0] - t0;
  const out: Point[] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < points.length; b++) {
    const last = b === buckets - 1 || span === 0;
    const limit = last ? Number.POSITIVE_INFINITY : t0 + (span * (b + 1)) / buckets;
    let lo: Point | null = null;
    let hi: Point | null = null;
    let loI = -1;
    let hiI = -1;
    for (; i < points.length && points[i]![0] < limit; i++) {
      const p = points[i]!;
      if (lo === null || p[1] < lo[1]) {
        lo = p;
        loI = i;
      }
      if (hi === null || p[1] > hi[1]) {
        hi = p;
        hiI = i;
      }
    }
    if (lo === null || hi === null) continue;
    if (loI === hiI) out.push(lo);
    else if (loI < hiI) out.push(lo, hi);
    else out.push(hi, lo);
  }
  return out.slice(0, max);
}

/** The plotted point a signal gives for a metric other than bitrate, or null. */
export function metricPoint(s: Signal, metric: Exclude<TimeseriesMetric, 'bitrate'>): Point | null {
  if (metric === 'buffer' && s.kind === 'buffer') return [s.t, s.s];
  if (metric === 'latency' && s.kind === 'latency') return [s.t, s.s];
  if (metric === 'throughput' && s.kind === 'throughput') return [s.t, s.bps];
  if (metric === 'playback_rate' && s.kind === 'playhead' && s.rate !== null) return [s.t, s.rate];
  return null;
}

/** The plotted bitrate steps (rendition.ts), carried to the session end so a step plot reaches it. */
export function bitratePoints(steps: readonly Step[], end: number): Point[] {
  const out: Point[] = [];
  for (const s of steps) if (s.bps !== null) out.push([s.t, s.bps]);
  const lastStep = steps.at(-1);
  if (lastStep && lastStep.bps !== null && lastStep.t < end) out.push([end, lastStep.bps]);
  return out;
}

function pointsOf(signals: readonly Signal[], metric: TimeseriesMetric, start: number, end: number): Point[] {
  if (metric === 'bitrate') return bitratePoints(renditionHistory(signals, start).steps, end);
  const out: Point[] = [];
  for (const s of signals) {
    const p = metricPoint(s, metric);
    if (p) out.push(p);
  }
  return out;
}

/** One metric over time from a session's accumulated events, at most `maxPoints` points. */
export function timeseriesOf(
  acc: SessionAccumulator,
  metric: TimeseriesMetric,
  maxPoints: number,
): Timeseries {
  const points = pointsOf(acc.signals(), metric, acc.first, acc.last);
  return { metric, unit: TIMESERIES_UNITS[metric], points: downsample(points, maxPoints) };
}

/** One metric over time for one session's events, oldest first, at most `maxPoints` points. */
export function timeseries(
  events: Iterable<QoeEvent>,
  metric: TimeseriesMetric,
  maxPoints: number = DEFAULT_MAX_POINTS,
): Timeseries {
  const acc = new SessionAccumulator('');
  for (const e of events) acc.add(e);
  return timeseriesOf(acc, metric, maxPoints);
}
