// QoE per session (src/qoe): hand-built reporter-SDK event sequences whose figures were worked
// out by hand in the comments: clean, two stalls, switches, failure before the first frame,
// out-of-order and duplicated events, warm-up trimming. Pure functions: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StoredEvent } from '../../src/events/schema.ts';
import { computeSessionQoe, parseWarmup, type QoeEvent, type SessionQoe } from '../../src/qoe/index.ts';
import { near, T0 } from '../helpers/qoe.ts';

function ev(sid: string, dt: number, event_type: string, payload: Record<string, unknown> = {}): QoeEvent {
  return {
    timestamp: T0 + dt,
    event_type,
    payload,
    session_id: sid,
    video_id: 'http://media.local/a.mpd',
    protocol: 'dash',
  };
}

// Clean: play request at 0, first frame at 1.5, one rendition (2 Mb/s), ended at 21.5.
// startup = 1.5 - 0 = 1.5 s; played = 21.5 - 1.5 = 20 s; no stall, ratio 0;
// latency samples 2, 2.5, 3 -> mean 2.5, p95 = 2.5 + 0.9 * (3 - 2.5) = 2.95 (linear, as NumPy);
// dropped-frames counter 0, 3, 3 -> 3. The initial rendition is not a switch.
const clean = (sid = 'clean') => [
  ev(sid, 0, 'play_requested', { autoplay: true }),
  ev(sid, 0.25, 'stream_initialized', { manifest_url: 'http://media.local/a.mpd' }),
  ev(sid, 0.75, 'quality_change_rendered', { new_quality: 1, bitrate: 2_000_000, media_type: 'video' }),
  ev(sid, 1.5, 'playback_started'),
  ev(sid, 6.5, 'periodic_metrics', {
    current_time: 5,
    live_latency: 2,
    dropped_frames: 0,
    current_bitrate: 2e6,
  }),
  ev(sid, 11.5, 'periodic_metrics', {
    current_time: 10,
    live_latency: 2.5,
    dropped_frames: 3,
    current_bitrate: 2e6,
  }),
  ev(sid, 16.5, 'periodic_metrics', {
    current_time: 15,
    live_latency: 3,
    dropped_frames: 3,
    current_bitrate: 2e6,
  }),
  ev(sid, 21.5, 'playback_ended', { total_rebuffers: 0 }),
  ev(sid, 22, 'session_ended', { reason: 'ended' }),
];

// Two stalls, plus things that are not stalls: the `waiting` before the first frame (startup)
// and the one during a seek. First frame at 1 with the player's own startup_time_ms = 950,
// which wins over the timestamps (1 - 0 = 1). Stalls [5, 7] (rebuffer_event/rebuffer_ended)
// and [12, 12.5] (state waiting -> playing): 2 stalls, 2.5 s. Seek 15 -> 16 is neither played
// nor stalled. Played: 1-5 (4) + 7-12 (5) + 12.5-15 (2.5) + 16-21 (5) = 16.5 s.
// Ratio 2.5 / (2.5 + 16.5) = 0.131579. Bitrate 1 Mb/s throughout.
const twoStalls = (sid = 'stalls') => [
  ev(sid, 0, 'play_requested'),
  ev(sid, 0.5, 'playback_state_changed', { old_state: 'paused', new_state: 'waiting' }),
  ev(sid, 1, 'quality_change_rendered', { new_quality: 0, bitrate: 1_000_000 }),
  ev(sid, 1, 'playback_started', { startup_time_ms: 950 }),
  ev(sid, 5, 'rebuffer_event', { rebuffer_count: 1, buffer_level: 0 }),
  ev(sid, 7, 'rebuffer_ended', { duration_ms: 2000 }),
  ev(sid, 12, 'playback_state_changed', { old_state: 'playing', new_state: 'waiting' }),
  ev(sid, 12.5, 'playback_state_changed', { old_state: 'waiting', new_state: 'playing' }),
  ev(sid, 15, 'playback_state_changed', { old_state: 'playing', new_state: 'seeking' }),
  ev(sid, 15.2, 'playback_state_changed', { old_state: 'seeking', new_state: 'waiting' }),
  ev(sid, 16, 'playback_state_changed', { old_state: 'waiting', new_state: 'playing' }),
  ev(sid, 21, 'session_ended', { reason: 'destroy' }),
];

// Switches: init 0, first frame 1 (startup 1 - 0 = 1, no play request). Renditions 1 Mb/s from
// 1, 3 Mb/s from 5, 2 Mb/s from 15; stall [11, 13]; end 21.
// Played 1-11 (10) + 13-21 (8) = 18 s. Bitrate-seconds: 4 x 1M + 6 x 3M + 2 x 3M + 6 x 2M = 40M,
// so avg = 40M / 18 = 2,222,222.222 b/s (the 2 s stall at 3 Mb/s is not counted).
// 2 switches (the initial one is not); the duplicate and the audio/same-index events add none.
const switches = (sid = 'switches') => [
  ev(sid, 0, 'stream_initialized'),
  ev(sid, 1, 'quality_change_rendered', { new_quality: 0, bitrate: 1_000_000, media_type: 'video' }),
  ev(sid, 1, 'playback_started'),
  ev(sid, 5, 'quality_change_rendered', { old_quality: 0, new_quality: 2, bitrate: 3e6, old_bitrate: 1e6 }),
  ev(sid, 5, 'quality_change_rendered', { old_quality: 0, new_quality: 2, bitrate: 3e6, old_bitrate: 1e6 }),
  ev(sid, 7, 'quality_change_rendered', {
    old_quality: 0,
    new_quality: 1,
    bitrate: 128_000,
    media_type: 'audio',
  }),
  ev(sid, 8, 'quality_change_rendered', { old_quality: 2, new_quality: 2, bitrate: 3e6 }),
  ev(sid, 11, 'rebuffer_event'),
  ev(sid, 13, 'rebuffer_ended', { duration_ms: 2000 }),
  ev(sid, 15, 'quality_change_rendered', { old_quality: 2, new_quality: 1, bitrate: 2e6, old_bitrate: 3e6 }),
  ev(sid, 21, 'session_ended', { reason: 'destroy' }),
];

describe('per-session QoE', () => {
  test('a clean session', () => {
    const q = computeSessionQoe(clean());
    near(q.startup_time_s, 1.5, 'startup');
    assert.equal(q.stall_count, 0);
    assert.equal(q.stall_time_s, 0);
    assert.equal(q.rebuffering_ratio, 0);
    near(q.played_time_s, 20, 'played');
    assert.equal(q.avg_bitrate_bps, 2_000_000);
    assert.equal(q.switch_count, 0);
    near(q.latency_avg_s, 2.5, 'latency avg');
    near(q.latency_p95_s, 2.95, 'latency p95');
    assert.equal(q.dropped_frames, 3);
    assert.equal(q.fatal_error, false);
    assert.equal(q.exit_before_start, false);
    assert.deepEqual(q.stalls, []);
    assert.deepEqual(q.switches, []);
    assert.equal(q.session_id, 'clean');
    assert.equal(q.video_id, 'http://media.local/a.mpd');
    assert.equal(q.protocol, 'dash');
  });

  test('two stalls; the startup wait and the seek wait are not stalls', () => {
    const q = computeSessionQoe(twoStalls());
    near(q.startup_time_s, 0.95, 'startup (player-reported)');
    assert.equal(q.stall_count, 2);
    near(q.stall_time_s, 2.5, 'stall time');
    near(q.played_time_s, 16.5, 'played');
    near(q.rebuffering_ratio, 2.5 / 19, 'ratio');
    assert.deepEqual(
      q.stalls.map((s) => [s.start - T0, s.end - T0, s.duration_s]),
      [
        [5, 7, 2],
        [12, 12.5, 0.5],
      ],
    );
    assert.equal(q.avg_bitrate_bps, 1_000_000);
    assert.equal(q.latency_avg_s, null, 'no event carries latency');
    assert.equal(q.dropped_frames, null, 'no event carries dropped frames');
  });

  test('switches: time-weighted bitrate over played time only', () => {
    const q = computeSessionQoe(switches());
    near(q.startup_time_s, 1, 'startup from stream_initialized');
    near(q.played_time_s, 18, 'played');
    near(q.avg_bitrate_bps, 40e6 / 18, 'avg bitrate');
    assert.equal(q.switch_count, 2);
    assert.deepEqual(
      q.switches.map((s) => [s.timestamp - T0, s.from_bps, s.to_bps]),
      [
        [5, 1e6, 3e6],
        [15, 3e6, 2e6],
      ],
    );
  });

  test('failing before the first frame is a fatal error, not an exit before start', () => {
    const q = computeSessionQoe([
      ev('f', 0, 'play_requested'),
      ev('f', 0.2, 'stream_initialized'),
      ev('f', 3, 'playback_error', { error_code: 'MEDIA_ERR_DECODE', error_message: 'boom', fatal: true }),
      ev('f', 3.5, 'session_ended', { reason: 'destroy' }),
    ]);
    assert.equal(q.fatal_error, true);
    assert.equal(q.exit_before_start, false);
    assert.equal(q.startup_time_s, null);
    assert.equal(q.stall_count, null, 'no playback, so no stall figure');
    assert.equal(q.rebuffering_ratio, null);
    assert.equal(q.avg_bitrate_bps, null);
    assert.equal(q.switch_count, null);
    assert.equal(q.played_time_s, 0);
  });

  test('leaving before the first frame without an error is an exit before start', () => {
    const q = computeSessionQoe([
      ev('x', 0, 'play_requested'),
      ev('x', 0.2, 'stream_initialized'),
      ev('x', 0.5, 'buffer_level_updated', { buffer_level: 1, media_type: 'video' }),
      ev('x', 4, 'session_ended', { reason: 'pagehide' }),
    ]);
    assert.equal(q.fatal_error, false);
    assert.equal(q.exit_before_start, true);
    assert.equal(q.startup_time_s, null);
  });

  test('an error without a fatal flag is fatal only when playback does not go on', () => {
    // Testbed errors carry no `fatal`: one before any frame with nothing after is fatal...
    const dead = computeSessionQoe([
      ev('d', 0, 'stream_initialized'),
      ev('d', 2, 'playback_error', { error_code: 27, error_message: 'manifest' }),
      ev('d', 2.5, 'fragment_loading_started', { media_type: 'video' }),
    ]);
    assert.equal(dead.fatal_error, true);
    assert.equal(dead.exit_before_start, false);
    // ...one mid-playback after which the playhead keeps moving (5 -> 10) is not.
    const alive = computeSessionQoe([
      ev('a', 0, 'stream_initialized'),
      ev('a', 1, 'playback_started'),
      ev('a', 6, 'periodic_metrics', { current_time: 5 }),
      ev('a', 7, 'playback_error', { error_code: 23, error_message: 'segment 404' }),
      ev('a', 11, 'periodic_metrics', { current_time: 10 }),
    ]);
    assert.equal(alive.fatal_error, false);
    near(alive.played_time_s, 10, 'played 1 -> 11');
    // An explicit fatal: false is believed even when the session stops right after.
    const flagged = computeSessionQoe([
      ev('n', 0, 'playback_started'),
      ev('n', 3, 'playback_error', { error_code: 1, fatal: false }),
    ]);
    assert.equal(flagged.fatal_error, false);
  });

  test('out-of-order and duplicated events give the same figures', () => {
    const inOrder = computeSessionQoe(twoStalls());
    const events = twoStalls();
    // A fixed shuffle (reverse, then interleave halves) plus two resent events.
    const reversed = [...events].reverse();
    const half = Math.ceil(reversed.length / 2);
    const shuffled: QoeEvent[] = [];
    for (let i = 0; i < half; i++) {
      shuffled.push(reversed[i]!);
      if (reversed[half + i]) shuffled.push(reversed[half + i]!);
    }
    shuffled.push({ ...events[4]! }, { ...events[5]! });
    assert.notDeepEqual(
      shuffled.map((e) => e.timestamp),
      events.map((e) => e.timestamp),
    );
    assert.deepEqual(computeSessionQoe(shuffled), inOrder);
  });

  test('a seek with no resume event ends when the playhead moves at wall-clock pace', () => {
    // First frame 1; seek at 10; samples at 12 (playhead jumped to 50: the seek) and 17 (55:
    // 5 s of media in 5 s, so playing again by 17); end 20. Played 1-10 (9) + 17-20 (3) = 12 s.
    const q = computeSessionQoe([
      ev('k', 0, 'play_requested'),
      ev('k', 1, 'playback_started'),
      ev('k', 6, 'periodic_metrics', { current_time: 5, playback_rate: 1 }),
      ev('k', 10, 'playback_state_changed', { new_state: 'seeking' }),
      ev('k', 12, 'periodic_metrics', { current_time: 50, playback_rate: 1 }),
      ev('k', 17, 'periodic_metrics', { current_time: 55, playback_rate: 1 }),
      ev('k', 20, 'session_ended', { reason: 'destroy' }),
    ]);
    near(q.played_time_s, 12, 'played');
    assert.equal(q.stall_count, 0);
  });

  test('stored events (as the store returns them) are accepted as they are', () => {
    const stored: StoredEvent[] = clean().map((e, i) => ({
      _id: `id${i}`,
      experiment_id: 'exp',
      timestamp: e.timestamp,
      event_type: e.event_type,
      protocol: 'dash',
      video_id: 'http://media.local/a.mpd',
      payload: e.payload ?? {},
      session_id: 'clean',
      event_id: `ev${i}`,
      stored_at: new Date(0).toISOString(),
    }));
    assert.deepEqual(computeSessionQoe(stored), computeSessionQoe(clean()));
    assert.equal(computeSessionQoe([]).session_id, 'unknown');
  });

  test('missing fields give nulls, not made-up numbers', () => {
    const q = computeSessionQoe([
      ev('m', 0, 'playback_started'),
      ev('m', 5, 'periodic_metrics', { current_time: 'n/a', live_latency: null, current_bitrate: 0 }),
      ev('m', 6, 'quality_change_rendered', {}),
      ev('m', 10, 'session_ended'),
    ]);
    // Nothing before the first frame says when loading began: unknown, not 0 (F11).
    assert.equal(q.startup_time_s, null);
    assert.equal(q.avg_bitrate_bps, null);
    assert.equal(q.latency_avg_s, null);
    assert.equal(q.latency_p95_s, null);
    assert.equal(q.dropped_frames, null);
    near(q.played_time_s, 10, 'played');
  });
});

describe('warm-up trimming', () => {
  const full = (): SessionQoe => computeSessionQoe(switches());

  test('in seconds: the rendition at the trim point comes from before it', () => {
    // Window [6, 21]. Played 6-11 (5) + 13-21 (8) = 13 s; stall [11, 13]; at 6 the rendition is
    // the 3 Mb/s one chosen at 5: 5 x 3M + 2 x 3M + 6 x 2M = 33M -> 33M / 13 = 2,538,461.538.
    // Only the switch at 15 is in the window. Startup is a whole-session figure: still 1 s.
    const q = computeSessionQoe(switches(), { warmup: parseWarmup('6') });
    near(q.played_time_s, 13, 'played');
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 2, 'stall time');
    near(q.avg_bitrate_bps, 33e6 / 13, 'avg bitrate');
    assert.equal(q.switch_count, 1);
    near(q.startup_time_s, full().startup_time_s!, 'startup unchanged');
  });

  test('as a fraction of the session (MMSys-style 0.5 here)', () => {
    // Session 0..21, so the window starts at 10.5. Played 10.5-11 (0.5) + 13-21 (8) = 8.5 s;
    // stall 2 s; ratio 2 / 10.5; bitrate 0.5 x 3M + 2 x 3M + 6 x 2M = 19.5M -> 19.5M / 8.5.
    const q = computeSessionQoe(switches(), { warmup: parseWarmup(0.5) });
    near(q.played_time_s, 8.5, 'played');
    near(q.rebuffering_ratio, 2 / 10.5, 'ratio');
    near(q.avg_bitrate_bps, 19.5e6 / 8.5, 'avg bitrate');
    assert.equal(q.switch_count, 1);
  });

  test('a stall across the trim point counts for its part inside the window', () => {
    // Window [12, 21]: the stall [11, 13] becomes [12, 13]; played 13-21 = 8 s; ratio 1 / 9.
    const q = computeSessionQoe(switches(), { warmup: parseWarmup(12) });
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 1, 'clipped stall');
    near(q.stalls[0]!.start, T0 + 12, 'clipped start');
    near(q.rebuffering_ratio, 1 / 9, 'ratio');
  });

  test('dropped frames count the counter increase after the trim point', () => {
    // Counter 0 at 6.5, 3 at 11.5, 3 at 16.5. Trim at 10: baseline 0 -> 3. Trim at 12: baseline 3 -> 0.
    assert.equal(computeSessionQoe(clean(), { warmup: parseWarmup(10) }).dropped_frames, 3);
    assert.equal(computeSessionQoe(clean(), { warmup: parseWarmup(12) }).dropped_frames, 0);
  });

  test('a warm-up longer than the session leaves an empty window, not an error', () => {
    const q = computeSessionQoe(switches(), { warmup: parseWarmup(60) });
    assert.equal(q.played_time_s, 0);
    assert.equal(q.stall_count, 0);
    assert.equal(q.switch_count, 0);
    assert.equal(q.rebuffering_ratio, null);
    assert.equal(q.avg_bitrate_bps, null);
    assert.equal(q.startup_time_s, 1, 'startup is not trimmed');
  });

  test('parseWarmup: seconds, fractions, none, and bad values', () => {
    assert.deepEqual(parseWarmup(undefined), { mode: 'none' });
    assert.deepEqual(parseWarmup('0'), { mode: 'none' });
    assert.deepEqual(parseWarmup('0.2'), { mode: 'fraction', fraction: 0.2 });
    assert.deepEqual(parseWarmup('30'), { mode: 'seconds', seconds: 30 });
    assert.throws(() => parseWarmup('-1'), RangeError);
    assert.throws(() => parseWarmup('abc'), RangeError);
  });
});
