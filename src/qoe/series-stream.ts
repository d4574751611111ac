/**
 * A session's plot series straight from a stream of its events in time order, holding only
 * what the result needs: at most `maxPoints` points however long the session (two passes over
 * the events when it needs downsampling), the bitrate only its steps. Gives exactly what
 * src/qoe/timeseries.ts gives over the whole session.
 */

import { RenditionTracker } from './rendition.ts';
import { type EventSource, forEachInstant } from './stream.ts';
import {
  bitratePoints,
  downsample,
  metricPoint,
  type Point,
  TIMESERIES_UNITS,
  type Timeseries,
  type TimeseriesMetric,
} from './timeseries.ts';

/** One metric of a session over time, at most `maxPoints` points, from its event stream. */
export async function streamTimeseries(
  source: EventSource,
  metric: TimeseriesMetric,
  maxPoints: number,
  span: { first: number; last: number },
): Promise<Timeseries> {
  const unit = TIMESERIES_UNITS[metric];
  if (metric === 'bitrate') {
    const tracker = new RenditionTracker(span.first);
    await forEachInstant(source, (group) => tracker.instant(group));
    return { metric, unit, points: downsample(bitratePoints(tracker.result().steps, span.last), maxPoints) };
  }
  // Pass 1: the points when they fit, else their count and time span.
  const max = Math.max(1, Math.floor(maxPoints));
  const kept: Point[] = [];
  let count = 0;
  let t0 = 0;
  let last: Point | undefined;
  await forEachInstant(source, (group) => {
    for (const s of group) {
      const p = metricPoint(s, metric);
      if (!p) continue;
      if (count === 0) t0 = p[0];
      last = p;
      if (++count <= max) kept.push(p);
    }
  });
  if (count <= max || !last) return { metric, unit, points: kept };
  if (max === 1) return { metric, unit, points: [last] };
  const t1 = last[0];
  // Pass 2: buckets over [t0, t1], each keeping its lowest and highest point (downsample()).
  const buckets = Math.floor(max / 2);
  const span1 = t1 - t0;
  const lo: Array<{ p: Point; i: number } | null> = new Array(buckets).fill(null);
  const hi: Array<{ p: Point; i: number } | null> = new Array(buckets).fill(null);
  let i = 0;
  await forEachInstant(source, (group) => {
    for (const s of group) {
      const p = metricPoint(s, metric);
      if (!p) continue;
      const b = bucketOf(p[0], t0, span1, buckets);
      const l = lo[b];
      const h = hi[b];
      if (!l || p[1] < l.p[1]) lo[b] = { p, i };
      if (!h || p[1] > h.p[1]) hi[b] = { p, i };
      i++;
    }
  });
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
