// QoE across event dialects (src/qoe/dialects): a session as the testbed's dash.js client
// really sends it, a CMCD v2 session that must give the same figures as its reporter twin,
// and the CMCD value shapes the decoder produces. Pure functions: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cmcdVideoValue } from '../src/cmcd/payload.ts';
import { computeSessionQoe, type QoeEvent, toSignals } from '../src/qoe/index.ts';
import { experimentQoe, near, T0 } from './helpers/qoe.ts';

const MPD = 'http://media.local/live/manifest.mpd';

/** Shaped like the testbed client's sendMetric: no session_id, video_id = MPD URL. */
function tb(dt: number, event_type: string, payload: Record<string, unknown>): QoeEvent {
  return { experiment_id: 'exp', timestamp: T0 + dt, event_type, protocol: 'dash', video_id: MPD, payload };
}

describe('testbed dash.js dialect', () => {
  // Its quirks: old_state == new_state, rebuffer_event never fires (PLAYBACK_STALLED does not
  // fire with MSE), audio and video buffer updates interleave, current_bitrate is 0 until the
  // first quality change. The stall is visible only as the video buffer running dry.
  //   init 0; first frame 1 -> startup 1 (no play request; origin = stream_initialized).
  //   1 Mb/s from 0.4, 3 Mb/s from 6 (old_quality 0 -> 2): 1 switch.
  //   video buffer 0 at 10 -> stall; playhead at 11 still 9 (= 4 + (10 - 5), so not moving);
  //   video buffer 0.8 at 12 -> the stall ends at 12: 1 stall of 2 s.
  //   video buffer 0 at 19.9 then playback_ended at 20: the content ran out, not a stall.
  //   played 1-10 (9) + 12-19.9 (7.9) = 16.9 s; ratio 2 / 18.9.
  //   bitrate-seconds 5 x 1M + 4 x 3M + 7.9 x 3M = 40.7M -> 40.7M / 16.9.
  //   dropped-frames counter 1 then 4 -> 4. No live latency in this dialect.
  const events = [
    tb(0, 'stream_initialized', { mpd_url: MPD }),
    tb(0.2, 'fragment_loading_started', { type: 'MediaSegment', url: `${MPD}/v0.m4s`, media_type: 'video' }),
    tb(0.4, 'quality_change_rendered', { new_quality: 0, bitrate: 1_000_000 }),
    tb(0.6, 'fragment_loading_completed', {
      type: 'MediaSegment',
      url: `${MPD}/v0.m4s`,
      quality: 0,
      media_type: 'video',
      start_time: 0,
      duration: 2,
    }),
    tb(0.8, 'buffer_level_updated', { buffer_level: 0, media_type: 'audio' }),
    tb(1, 'playback_started', { mpd_url: MPD }),
    tb(1, 'playback_state_changed', { old_state: 'playing', new_state: 'playing' }),
    tb(1.2, 'buffer_level_updated', { buffer_level: 2, media_type: 'video' }),
    tb(1.2, 'buffer_level_updated', { buffer_level: 0, media_type: 'audio' }),
    tb(5, 'periodic_metrics', {
      current_time: 4,
      duration: 20,
      playback_rate: 1,
      dropped_frames: 1,
      buffer_level: 3,
      current_bitrate: 1_000_000,
    }),
    tb(6, 'quality_change_rendered', { old_quality: 0, new_quality: 2, bitrate: 3_000_000 }),
    tb(10, 'buffer_level_updated', { buffer_level: 0, media_type: 'video' }),
    tb(10.5, 'buffer_level_updated', { buffer_level: 0, media_type: 'video' }),
    tb(11, 'periodic_metrics', {
      current_time: 9,
      duration: 20,
      playback_rate: 1,
      dropped_frames: 1,
      buffer_level: 0,
      current_bitrate: 3_000_000,
    }),
    tb(12, 'buffer_level_updated', { buffer_level: 0.8, media_type: 'video' }),
    tb(16, 'periodic_metrics', {
      current_time: 13,
      duration: 20,
      playback_rate: 1,
      dropped_frames: 4,
      buffer_level: 3,
      current_bitrate: 3_000_000,
    }),
    tb(19.9, 'buffer_level_updated', { buffer_level: 0, media_type: 'video' }),
    tb(20, 'playback_ended', { total_rebuffers: 0 }),
  ];

  test('figures from buffer, playhead and quality events', () => {
    const { sessions } = experimentQoe(events);
    assert.equal(sessions.length, 1);
    const q = sessions[0]!;
    assert.equal(q.session_id, MPD, 'no session_id: grouped by video_id');
    near(q.startup_time_s, 1, 'startup');
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 2, 'stall time');
    near(q.stalls[0]!.start, T0 + 10, 'stall start');
    near(q.stalls[0]!.end, T0 + 12, 'stall end');
    near(q.played_time_s, 16.9, 'played');
    near(q.rebuffering_ratio, 2 / 18.9, 'ratio');
    near(q.avg_bitrate_bps, 40.7e6 / 16.9, 'avg bitrate');
    assert.equal(q.switch_count, 1);
    assert.deepEqual(q.switches, [{ timestamp: T0 + 6, from_bps: 1e6, to_bps: 3e6 }]);
    assert.equal(q.dropped_frames, 4);
    assert.equal(q.latency_avg_s, null);
    assert.equal(q.fatal_error, false);
  });

  test('a stall with no end event ends when the playhead moves again', () => {
    // Same start, but no buffer update after the stall: the periodic sample at 16 shows the
    // playhead past 9.25 (13), so the stall ends at 16 (the first sign we have): 6 s.
    const noBuffer = events.filter(
      (e) => !(e.event_type === 'buffer_level_updated' && e.timestamp > T0 + 11),
    );
    const q = computeSessionQoe(noBuffer);
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 6, 'stall ends at the moving playhead');
  });
});

describe('CMCD v2 dialect', () => {
  // The same session told twice. Reporter: play request 0, first frame 1.2 (startup_time_ms 1200),
  // 1 Mb/s, stall [8, 9.5], switch to 2.5 Mb/s at 12, quit at 20.
  //   startup 1.2; played 1.2-8 (6.8) + 9.5-20 (10.5) = 17.3 s; stall 1.5 s; ratio 1.5 / 18.8;
  //   bitrate-seconds 6.8 x 1M + 2.5 x 1M + 8 x 2.5M = 29.3M -> 29.3M / 17.3;
  //   latency 2, 3 -> mean 2.5, p95 2 + 0.95 x 1 = 2.95; dropped 5.
  const r = (dt: number, event_type: string, payload: Record<string, unknown> = {}): QoeEvent => ({
    timestamp: T0 + dt,
    event_type,
    payload,
    session_id: 'rep-1',
    video_id: 'movie',
    protocol: 'dash',
  });
  const reporter = [
    r(0, 'play_requested', { autoplay: true }),
    r(0.2, 'stream_initialized', { manifest_url: 'movie.mpd', player: 'dash.js' }),
    r(1, 'quality_change_rendered', { new_quality: 0, bitrate: 1e6, media_type: 'video' }),
    r(1.2, 'playback_started', { startup_time_ms: 1200 }),
    r(5, 'periodic_metrics', { current_time: 3.8, live_latency: 2, dropped_frames: 1, current_bitrate: 1e6 }),
    r(8, 'rebuffer_event', { rebuffer_count: 1 }),
    r(9.5, 'rebuffer_ended', { duration_ms: 1500 }),
    r(12, 'quality_change_rendered', { old_quality: 0, new_quality: 1, bitrate: 2.5e6, old_bitrate: 1e6 }),
    r(15, 'periodic_metrics', {
      current_time: 13,
      live_latency: 3,
      dropped_frames: 5,
      current_bitrate: 2.5e6,
    }),
    r(20, 'session_ended', { reason: 'destroy' }),
  ];
  // As the CMCD collector stores it: cmcd_<e>, keys decoded by @svta/cml-cmcd (inner lists
  // become arrays of numbers or {value, params}), CMCD units (kbps, ms).
  const c = (dt: number, e: string, keys: Record<string, unknown>): QoeEvent => ({
    timestamp: T0 + dt,
    event_type: `cmcd_${e}`,
    payload: { e, sid: 'cmcd-1', ts: (T0 + dt) * 1000, v: 2, ...keys },
    session_id: 'cmcd-1',
    video_id: 'movie',
    protocol: 'dash',
  });
  const cmcd = [
    c(0, 'ps', { sta: 's', br: [{ value: 1000, params: { v: true } }] }),
    c(1.2, 'ps', { sta: 'p', msd: 1200 }),
    c(5, 't', { pt: 3800, ltc: 2000, dfa: 1, br: [1000], bl: [{ value: 4000, params: { v: true } }] }),
    c(8, 'ps', { sta: 'r', bsa: [1] }),
    c(9.5, 'ps', { sta: 'p', bsd: [1500] }),
    c(12, 'bc', {
      br: [
        { value: 128, params: { a: true } },
        { value: 2500, params: { v: true } },
      ],
    }),
    c(15, 't', { pt: 13000, ltc: 3000, dfa: 5, br: [2500], mtp: [8000] }),
    c(20, 'ps', { sta: 'q' }),
  ];

  test('the reporter session gives the hand-computed figures', () => {
    const q = computeSessionQoe(reporter);
    near(q.startup_time_s, 1.2, 'startup');
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 1.5, 'stall time');
    near(q.played_time_s, 17.3, 'played');
    near(q.rebuffering_ratio, 1.5 / 18.8, 'ratio');
    near(q.avg_bitrate_bps, 29.3e6 / 17.3, 'avg bitrate');
    assert.equal(q.switch_count, 1);
    near(q.latency_avg_s, 2.5, 'latency avg');
    near(q.latency_p95_s, 2.95, 'latency p95');
    assert.equal(q.dropped_frames, 5);
    assert.equal(q.exit_before_start, false);
  });

  test('the CMCD session gives the same figures as its reporter twin', () => {
    const { session_id: _a, ...fromReporter } = computeSessionQoe(reporter);
    const { session_id: _b, ...fromCmcd } = computeSessionQoe(cmcd);
    assert.deepEqual(fromCmcd, fromReporter);
  });

  test('a late bsd for a stall already closed by sta=p is not a second stall', () => {
    const late = [...cmcd, c(10.5, 't', { bsd: [1500], pt: 5000 })];
    assert.equal(computeSessionQoe(late).stall_count, 1);
  });

  test('a late bsd for the previous stall does not end the one in progress', () => {
    // Stall [8, 9.5] closed by sta=p; a new stall opens at 10 (sta=r); at 10.2 the player
    // reports bsd=1500 (the first stall: it began at 8.7, long before 10), then sta=p at 11.
    const q = computeSessionQoe([
      ...cmcd.filter((e) => e.timestamp <= T0 + 9.5),
      c(10, 'ps', { sta: 'r' }),
      c(10.2, 't', { bsd: [1500] }),
      c(11, 'ps', { sta: 'p' }),
      c(20, 'ps', { sta: 'q' }),
    ]);
    assert.deepEqual(
      q.stalls.map((s) => [s.start - T0, s.end - T0]),
      [
        [8, 9.5],
        [10, 11],
      ],
    );
  });

  test('a bsd with no rebuffering state still reports the stall', () => {
    // Without the sta=r / sta=p pair, bsd=1500 reported at 9.5 means a stall [8, 9.5].
    const onlyBsd = cmcd
      .filter((e) => e.payload?.sta !== 'r')
      .map((e) =>
        e.payload?.sta === 'p' && e.timestamp === T0 + 9.5 ? { ...e, payload: { e: 't', bsd: [1500] } } : e,
      );
    const q = computeSessionQoe(onlyBsd);
    assert.equal(q.stall_count, 1);
    near(q.stalls[0]!.start, T0 + 8, 'start = report time - duration');
  });

  test('sta=f is a fatal error; sta=q before playing is an exit before start', () => {
    const fatal = computeSessionQoe([
      c(0, 'ps', { sta: 's' }),
      c(2, 'e', { ec: ['MEDIA_ERR'] }),
      c(2, 'ps', { sta: 'f' }),
    ]);
    assert.equal(fatal.fatal_error, true);
    assert.equal(fatal.exit_before_start, false);
    const quit = computeSessionQoe([c(0, 'ps', { sta: 's' }), c(3, 'ps', { sta: 'q' })]);
    assert.equal(quit.fatal_error, false);
    assert.equal(quit.exit_before_start, true);
  });

  test('msd alone says playback started; request data alone says nothing about exits', () => {
    const msdOnly = computeSessionQoe([c(0, 't', { bl: [0] }), c(5, 't', { msd: 800, pt: 4000 })]);
    assert.equal(msdOnly.exit_before_start, false);
    near(msdOnly.startup_time_s, 0.8, 'startup from msd');
    // CMCD request-mode data (object reports with ot): no life cycle, so no exit claimed, and
    // the requested object's bitrate is not taken for the rendered one.
    const requests = computeSessionQoe([
      c(0, 'rr', { ot: 'v', br: [3000], bl: [1200], mtp: [9000] }),
      c(2, 'rr', { ot: 'v', br: [3000], bl: [2400] }),
    ]);
    assert.equal(requests.exit_before_start, false);
    assert.equal(requests.startup_time_s, null);
    assert.equal(requests.avg_bitrate_bps, null);
  });

  test('cumulative bsa/bsda stand in when no stall intervals are reported', () => {
    // Playing from 1; interval reports only: bsa 0 -> 2 and bsda 0 -> 3000 ms.
    const q = computeSessionQoe([
      c(0, 'ps', { sta: 's' }),
      c(1, 'ps', { sta: 'p' }),
      c(5, 't', { bsa: [0], bsda: [0] }),
      c(15, 't', { bsa: [2], bsda: [3000] }),
    ]);
    // Session 0..15, playing from 1: 14 s on the timeline, of which 3 s were stalls.
    assert.equal(q.stall_count, 2);
    near(q.stall_time_s, 3, 'stall time from bsda');
    near(q.played_time_s, 11, 'played time excludes them');
    near(q.rebuffering_ratio, 3 / 14, 'ratio');
  });
});

describe('signal mapping details', () => {
  test('CMCD inner lists: the video entry, else the first untagged number', () => {
    assert.equal(cmcdVideoValue(3000), 3000);
    assert.equal(cmcdVideoValue('3000'), 3000);
    assert.equal(cmcdVideoValue([1200]), 1200);
    assert.equal(
      cmcdVideoValue([
        { value: 128, params: { a: true } },
        { value: 3000, params: { v: true } },
      ]),
      3000,
    );
    assert.equal(cmcdVideoValue([{ value: 5000, params: { av: true } }]), 5000);
    assert.equal(cmcdVideoValue([{ value: 128, params: { a: true } }]), null);
    assert.equal(cmcdVideoValue(undefined), null);
  });

  test('CMCD units become ours; rr bitrates are downloads, not renditions', () => {
    const at = (event_type: string, payload: Record<string, unknown>) =>
      toSignals({ timestamp: T0, event_type, payload, session_id: 's' });
    assert.deepEqual(at('cmcd_t', { ltc: 1500, bl: [2500] }), [
      { kind: 'buffer', t: T0, s: 2.5, forStalls: true },
      { kind: 'latency', t: T0, s: 1.5 },
    ]);
    assert.deepEqual(at('cmcd_rr', { br: [3000], ot: 'v' }), []);
    // pb (what is on screen) wins over br (what is selected).
    const [rend] = at('cmcd_t', { br: [3000], pb: [2000] });
    assert.equal(rend?.kind === 'rendition' ? rend.bps : null, 2_000_000);
    // The event type names `e` when the payload does not.
    assert.deepEqual(at('cmcd_ps', { sta: 'r' }), [{ kind: 'stall_start', t: T0 }]);
  });

  test('events QoE does not use, or with a bad timestamp, map to nothing', () => {
    assert.deepEqual(toSignals({ timestamp: T0, event_type: 'custom_thing', payload: { a: 1 } }), []);
    assert.deepEqual(toSignals({ timestamp: Number.NaN, event_type: 'playback_started', payload: {} }), []);
    assert.deepEqual(toSignals({ timestamp: T0, event_type: 'playback_started', payload: null }), [
      { kind: 'playing', t: T0 },
    ]);
  });
});
