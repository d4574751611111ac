// QoE over sessions and over time (src/qoe): session grouping, mean/median/p95 with nulls
// ignored (checked against NumPy's default percentile), per-session time series in our units
// and their bounded downsampling. Pure functions: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Value } from 'typebox/value';
import {
  AggregateSchema,
  downsample,
  type Point,
  parseWarmup,
  type QoeEvent,
  quantile,
  SessionQoeSchema,
  summarize,
  TimeseriesPointsSchema,
  timeseries,
  WarmupSchema,
} from '../src/qoe/index.ts';
import { experimentQoe, T0 } from './helpers/qoe.ts';

function ev(
  dt: number,
  event_type: string,
  payload: Record<string, unknown>,
  extra: Partial<QoeEvent> = {},
): QoeEvent {
  return { timestamp: T0 + dt, event_type, payload, video_id: 'v.mpd', protocol: 'dash', ...extra };
}

/** A session that starts after `startup` seconds and plays until 10. */
function session(id: string, startup: number): QoeEvent[] {
  return [
    ev(0, 'play_requested', {}, { session_id: id }),
    ev(startup, 'playback_started', {}, { session_id: id }),
    ev(10, 'session_ended', { reason: 'destroy' }, { session_id: id }),
  ];
}

describe('aggregates', () => {
  test('mean, median and p95 as NumPy computes them; nulls ignored', () => {
    // np.mean([1,2,3,4]) = 2.5, np.median = 2.5, np.percentile(..., 95) = 3 + 0.85 x 1 = 3.85
    assert.deepEqual(summarize([1, null, 2, 3, 4, undefined]), { mean: 2.5, median: 2.5, p95: 3.85, n: 4 });
    assert.deepEqual(summarize([]), { mean: null, median: null, p95: null, n: 0 });
    assert.deepEqual(summarize([7]), { mean: 7, median: 7, p95: 7, n: 1 });
    // np.percentile(range(1, 101), 95) = 95.05
    assert.equal(
      quantile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.95,
      )?.toFixed(2),
      '95.05',
    );
  });

  test('an experiment: sessions grouped by key, aggregated per metric', () => {
    // Startups 1, 2, 3 s and one viewer who left before the first frame (startup null):
    // startup mean 2, median 2, p95 = 2 + 0.9 x 1 = 2.9 over n = 3; exit_before_start 1 in 4.
    const events = [
      ...session('a', 1),
      ...session('b', 2),
      // keyed by payload.session_id
      ev(0, 'play_requested', { session_id: 'c' }),
      ev(3, 'playback_started', { session_id: 'c' }),
      // no session id at all: grouped by video_id
      ev(0.5, 'play_requested', {}, { video_id: 'gone.mpd' }),
      ev(4, 'session_ended', { reason: 'pagehide' }, { video_id: 'gone.mpd' }),
    ].sort((x, y) => y.timestamp - x.timestamp);
    const { sessions, aggregate } = experimentQoe(events);
    assert.deepEqual(
      sessions.map((s) => s.session_id),
      ['a', 'b', 'c', 'gone.mpd'],
    );
    assert.deepEqual(aggregate.startup_time_s, { mean: 2, median: 2, p95: 2.9, n: 3 });
    assert.deepEqual(aggregate.exit_before_start, { mean: 0.25, median: 0, p95: 0.85, n: 4 });
    assert.equal(aggregate.latency_avg_s.n, 0);
    assert.equal(aggregate.latency_avg_s.mean, null);
  });

  test('results match the published JSON schemas', () => {
    const stalled = [
      ...session('s', 1),
      ev(4, 'rebuffer_event', {}, { session_id: 's' }),
      ev(5, 'rebuffer_ended', {}, { session_id: 's' }),
      ev(6, 'quality_change_rendered', { old_bitrate: 1e6, bitrate: 2e6 }, { session_id: 's' }),
    ];
    const { sessions, aggregate } = experimentQoe([...stalled, ...session('never', 99)]);
    for (const q of sessions) assert.ok(Value.Check(SessionQoeSchema, q), JSON.stringify(q));
    const s = sessions.find((x) => x.session_id === 's')!;
    assert.equal(s.stalls.length, 1);
    assert.equal(s.switches.length, 1);
    assert.ok(Value.Check(AggregateSchema, aggregate));
    assert.ok(Value.Check(WarmupSchema, parseWarmup('0.2')));
    assert.ok(Value.Check(TimeseriesPointsSchema, timeseries(stalled, 'bitrate').points));
  });
});

describe('time series', () => {
  test('bitrate is the rendered rendition, as steps carried to the session end', () => {
    const s = { session_id: 's' };
    const ts = timeseries(
      [
        ev(0, 'stream_initialized', {}, s),
        ev(1, 'quality_change_rendered', { new_quality: 0, bitrate: 1e6 }, s),
        ev(5, 'quality_change_rendered', { old_quality: 0, new_quality: 2, bitrate: 3e6 }, s),
        ev(9, 'periodic_metrics', { current_bitrate: 3e6, current_time: 8 }, s),
        ev(12, 'session_ended', {}, s),
      ],
      'bitrate',
    );
    assert.equal(ts.unit, 'bps');
    assert.deepEqual(ts.points, [
      [T0 + 1, 1e6],
      [T0 + 5, 3e6],
      [T0 + 12, 3e6],
    ]);
  });

  test('latency, buffer and throughput in seconds and bits per second, from every dialect', () => {
    const events = [
      ev(1, 'periodic_metrics', { live_latency: 2.5, buffer_level: 4, throughput_bps: 8e6 }),
      ev(2, 'cmcd_t', { e: 't', ltc: 3000, bl: [{ value: 1500, params: { v: true } }], mtp: [6000] }),
      ev(3, 'fragment_loading_completed', { media_type: 'video', bytes: 500_000, download_time_ms: 400 }),
      ev(4, 'buffer_level_updated', { buffer_level: 9, media_type: 'audio' }),
    ];
    assert.deepEqual(timeseries(events, 'latency').points, [
      [T0 + 1, 2.5],
      [T0 + 2, 3],
    ]);
    const buffer = timeseries(events, 'buffer');
    assert.equal(buffer.unit, 's');
    assert.deepEqual(buffer.points, [
      [T0 + 1, 4],
      [T0 + 2, 1.5],
    ]);
    // 500,000 bytes in 0.4 s = 10 Mb/s
    assert.deepEqual(timeseries(events, 'throughput').points, [
      [T0 + 1, 8e6],
      [T0 + 2, 6e6],
      [T0 + 3, 10e6],
    ]);
  });

  test('downsampling bounds the points and keeps the extremes', () => {
    // 3,000 buffer samples at 10 Hz (the MMSys'24 run length) with one dip to 0 and one peak.
    const events: QoeEvent[] = [];
    for (let i = 0; i < 3000; i++) {
      const level = i === 1234 ? 0 : i === 2500 ? 30 : 2 + Math.sin(i / 20);
      events.push(
        ev(i / 10, 'buffer_level_updated', { buffer_level: level, media_type: 'video' }, { session_id: 'd' }),
      );
    }
    for (const max of [500, 101, 2, 1]) {
      const { points } = timeseries(events, 'buffer', max);
      assert.ok(points.length <= max && points.length > 0, `${points.length} points for max ${max}`);
      const times = points.map((p) => p[0]);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        'in time order',
      );
    }
    const { points } = timeseries(events, 'buffer', 100);
    assert.ok(
      points.some(([t, v]) => v === 0 && Math.abs(t - (T0 + 123.4)) < 1e-6),
      'the dip survives',
    );
    assert.ok(
      points.some(([, v]) => v === 30),
      'the peak survives',
    );
    assert.equal(timeseries(events, 'buffer', 5000).points.length, 3000, 'all points when they fit');
  });

  test('downsample edge cases', () => {
    const same: Point[] = Array.from({ length: 10 }, (_, i) => [T0, i]);
    assert.deepEqual(downsample(same, 4), [
      [T0, 0],
      [T0, 9],
    ]);
    assert.deepEqual(downsample([], 10), []);
  });
});
