/**
 * A session's QoE signals and plot series straight from a stream of its events in time order,
 * holding only what the result needs: a series is at most `maxPoints` points however long the
 * session (two passes over the events when it needs downsampling), the bitrate only the
 * rendition signals. Gives exactly what src/qoe/timeseries.ts gives over the whole session.
 */
import { toSignals } from '../qoe/dialects/index.ts';
import {
  bitratePoints,
  downsample,
  metricPoint,
  type Point,
  TIMESERIES_UNITS,
  type Timeseries,
  type TimeseriesMetric,
} from '../qoe/timeseries.ts';
import type { QoeEvent, Signal } from '../qoe/types.ts';

/** A way to read a session's events in (timestamp, id) order, as often as needed. */
export type EventSource = () => AsyncIterable<QoeEvent[]>;

/**
 * Signals in time order, with exact copies at one instant dropped (events resent without an
 * event_id), as SessionAccumulator.signals() gives them.
 */
export async function* signalStream(source: EventSource): AsyncIterable<Signal> {
  let t: number | undefined;
  let seen = new Set<string>();
  for await (const batch of source()) {
    for (const e of batch) {
      for (const sig of toSignals(e)) {
        if (sig.t !== t) {
          t = sig.t;
          seen = new Set();
        }
        const key = JSON.stringify(sig);
        if (seen.has(key)) continue;
        seen.add(key);
        yield sig;
      }
    }
  }
}

/** One metric of a session over time, at most `maxPoints` points, from its event stream. */
export async function streamTimeseries(
  source: EventSource,
  metric: TimeseriesMetric,
  maxPoints: number,
  span: { first: number; last: number },
): Promise<Timeseries> {
  const unit = TIMESERIES_UNITS[metric];
  if (metric === 'bitrate') {
    // Repeats of an unchanged periodic sample change no step (rendition.ts): keep one.
    const renditions: Signal[] = [];
    let last: Extract<Signal, { kind: 'rendition' }> | null = null;
    for await (const s of signalStream(source)) {
      if (s.kind !== 'rendition') continue;
      if (!s.explicit && last && sameSample(last, s)) continue;
      if (!s.explicit) last = s;
      renditions.push(s);
    }
    return { metric, unit, points: downsample(bitratePoints(renditions, span.first, span.last), maxPoints) };
  }
  // Pass 1: the points when they fit, else their count and time span.
  const max = Math.max(1, Math.floor(maxPoints));
  const kept: Point[] = [];
  let count = 0;
  let t0 = 0;
  let last: Point | undefined;
  for await (const s of signalStream(source)) {
    const p = metricPoint(s, metric);
    if (!p) continue;
    if (count === 0) t0 = p[0];
    last = p;
    if (++count <= max) kept.push(p);
  }
  if (count <= max || !last) return { metric, unit, points: kept };
  if (max === 1) return { metric, unit, points: [last] };
  const t1 = last[0];
  // Pass 2: buckets over [t0, t1], each keeping its lowest and highest point (downsample()).
  const buckets = Math.floor(max / 2);
  const span1 = t1 - t0;
  const lo: Array<{ p: Point; i: number } | null> = new Array(buckets).fill(null);
  const hi: Array<{ p: Point; i: number } | null> = new Array(buckets).fill(null);
  let i = 0;
  for await (const s of signalStream(source)) {
    const p = metricPoint(s, metric);
    if (!p) continue;
    const b = bucketOf(p[0], t0, span1, buckets);
    const l = lo[b];
    const h = hi[b];
    if (!l || p[1] < l.p[1]) lo[b] = { p, i };
    if (!h || p[1] > h.p[1]) hi[b] = { p, i };
    i++;
  }
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const l = lo[b];
    const h = hi[b];
    if (!l || !h) continue;
    if (l.i === h.i) out.push(l.p);
    else if (l.i < h.i) out.push(l.p, h.p);
    else out.push(h.p, l.p);
  }
  return { metric, unit, points: out.slice(0, max) };
}

/** The bucket downsample() puts a point at time t in: the first whose limit is above t. */
function bucketOf(t: number, t0: number, span: number, buckets: number): number {
  if (span === 0) return 0;
  for (let b = Math.max(0, Math.floor(((t - t0) / span) * buckets) - 1); b < buckets - 1; b++) {
    if (t < t0 + (span * (b + 1)) / buckets) return b;
  }
  return buckets - 1;
}

function sameSample(
  a: Extract<Signal, { kind: 'rendition' }>,
  b: Extract<Signal, { kind: 'rendition' }>,
): boolean {
  return (
    a.bps === b.bps && a.quality === b.quality && a.fromBps === b.fromBps && a.fromQuality === b.fromQuality
  );
}
