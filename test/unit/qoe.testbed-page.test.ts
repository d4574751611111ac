// QoE of what the Livestreaming-Testbed's page sends under dash.js 4.7.4: stream_initialized,
// fragment_loading_started/completed and buffer_level_updated only (docs/qoe.md, "The testbed
// page under dash.js 4"). Hand-worked sessions; each expected figure is derived in the comments.
// Also: a session of one playback_started has no startup (F11). Pure: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { segmentKey } from '../../src/qoe/dialects/testbed.ts';
import { computeSessionQoe, type QoeEvent } from '../../src/qoe/index.ts';
import { streamSessionQoe } from '../../src/qoe/stream.ts';
import { near, T0 } from '../helpers/qoe.ts';

const MPD = 'http://media.local/dash/manifest.mpd';

function ev(s: number, event_type: string, payload: Record<string, unknown> = {}): QoeEvent {
  return { timestamp: T0 + s, event_type, protocol: 'dash', video_id: MPD, payload };
}
const buffer = (s: number, level: number, media_type = 'video') =>
  ev(s, 'buffer_level_updated', { buffer_level: level, media_type });
const started = (s: number, seg: string, media_type = 'video', type = 'MediaSegment') =>
  ev(s, 'fragment_loading_started', { type, url: `http://media.local/dash/${seg}`, media_type });
const completed = (s: number, seg: string, quality: number, media_type = 'video', type = 'MediaSegment') =>
  ev(s, 'fragment_loading_completed', {
    type,
    url: `http://media.local/dash/${seg}`,
    quality,
    media_type,
    start_time: 0,
    duration: 2,
  });

/**
 * The load: init segments and the buffer reset before stream_initialized (as dash.js 4 sends
 * them), then two 2-s video segments at quality 0 before anything plays.
 *   0.00 init loads (the run's first event: startup origin), 0.05 buffer 0 (video),
 *   0.20 stream_initialized
 *   0.30-0.80 seg 1 → buffer 2.0 at 0.85; 0.90-1.20 seg 2 → buffer 4.0 at 1.25
 */
function load(): QoeEvent[] {
  return [
    started(0, 'init-0.m4s', 'video', 'InitializationSegment'),
    started(0, 'init-3.m4s', 'audio', 'InitializationSegment'),
    completed(0.02, 'init-0.m4s', 0, 'video', 'InitializationSegment'),
    buffer(0.05, 0),
    buffer(0.05, 0, 'audio'),
    ev(0.2, 'stream_initialized', { mpd_url: MPD }),
    started(0.3, 'seg-0-001.m4s'),
    completed(0.8, 'seg-0-001.m4s', 0),
    buffer(0.85, 2.0),
    started(0.9, 'seg-0-002.m4s'),
    // Audio is ignored: its buffer and loads say nothing about the video.
    buffer(0.95, 0.5, 'audio'),
    completed(1.2, 'seg-0-002.m4s', 0),
    buffer(1.25, 4.0),
  ];
}

/**
 * A clean run. Playback shows first at 1.5: the buffer went 4.0 (1.25) → 3.8 (1.5), 0.2 s used
 * up, so it began at 1.5 − 0.2 = 1.3 (not before 1.25). Startup = 1.3 − 0 = 1.3 s.
 * Seg 3 comes at quality 1 (2.0-2.6): one switch, at 2.6, after the first frame. The last
 * segment is done at 2.6; no request after it; the buffer drains to 0 at 9.0: the end of the
 * content (the player fetched nothing while it was dry), not a stall. Played = 9.0 − 1.3 = 7.7.
 */
function cleanRun(): QoeEvent[] {
  return [
    ...load(),
    buffer(1.5, 3.8),
    started(2.0, 'seg-1-003.m4s'),
    buffer(2.5, 2.8),
    completed(2.6, 'seg-1-003.m4s', 1),
    buffer(2.65, 4.65),
    buffer(5.0, 2.3),
    buffer(8.0, 0.3),
    buffer(9.0, 0),
    buffer(9.25, 0),
  ];
}

/**
 * A throttled run: as the clean one up to 2.5, then seg 3 is slow (started 2.0, done 7.5).
 * The buffer is empty at 5.3 with the request under way: a stall from 5.3. It stays 0 at 6.0;
 * seg 3 lands, buffer 2.0 at 7.55 (refilled, but the element may still wait), 1.8 at 7.8: used
 * up again, so playback resumed 0.2 s before 7.8, at 7.6. Stall = 7.6 − 5.3 = 2.3 s. Then the
 * last segment is in, and the buffer drains to 0 at 9.6 with nothing fetched: end of content.
 * Played = (5.3 − 1.3) + (9.6 − 7.6) = 6.0.
 */
function throttledRun(): QoeEvent[] {
  return [
    ...load(),
    buffer(1.5, 3.8),
    started(2.0, 'seg-1-003.m4s'),
    buffer(2.5, 2.8),
    buffer(5.0, 0.3),
    buffer(5.3, 0),
    buffer(6.0, 0),
    completed(7.5, 'seg-1-003.m4s', 1),
    buffer(7.55, 2.0),
    buffer(7.8, 1.8),
    buffer(9.6, 0),
    buffer(9.85, 0),
  ];
}

describe('the testbed page under dash.js 4 (buffer and downloads only)', () => {
  test('a clean run: startup from the buffer being used up, end of content is no stall', () => {
    const q = computeSessionQoe(cleanRun());
    near(q.startup_time_s, 1.3, 'startup');
    assert.equal(q.stall_count, 0);
    near(q.stall_time_s, 0, 'stall time');
    near(q.played_time_s, 7.7, 'played');
    assert.equal(q.exit_before_start, false);
    assert.equal(q.switch_count, 1);
    near(q.switches[0]!.timestamp, T0 + 2.6, 'switch time');
    // Quality indexes only: the bitrates are in the MPD, which the server never sees.
    assert.equal(q.avg_bitrate_bps, null);
    assert.match(q.why_null?.avg_bitrate_bps ?? '', /MPD/);
    assert.equal(q.why_null?.startup_time_s, undefined);
  });

  test('a throttled run: the stall is the empty buffer while a request is under way', () => {
    const q = computeSessionQoe(throttledRun());
    near(q.startup_time_s, 1.3, 'startup');
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 2.3, 'stall time');
    near(q.stalls[0]!.start, T0 + 5.3, 'stall start');
    near(q.played_time_s, 6.0, 'played');
    // 2.3 / (2.3 + 6.0)
    near(q.rebuffering_ratio, 2.3 / 8.3, 'rebuffering ratio');
  });

  test('audio still draining after the video ran dry: playback went on over a frozen picture', () => {
    // Chromium plays audio on when the video buffer is empty. Audio 1.0 (5.0), 0.7 (5.3),
    // 0.45 (5.55), 0.4 (5.8), then 0.4 (6.0): the playhead moved until 5.8, so the stall
    // began at 5.8, not at 5.3 when the video ran dry. Stall = 7.6 − 5.8 = 1.8 s;
    // played = (5.8 − 1.3) + (9.6 − 7.6) = 6.5.
    const audio = [1.0, 0.7, 0.45, 0.4, 0.4];
    const q = computeSessionQoe([
      ...throttledRun(),
      ...[5.0, 5.3, 5.55, 5.8, 6.0].map((s, i) => buffer(s + 0.001, audio[i]!, 'audio')),
    ]);
    assert.equal(q.stall_count, 1);
    near(q.stalls[0]!.start, T0 + 5.801, 'stall start');
    near(q.stall_time_s, 7.6 - 5.801, 'stall time');
    near(q.played_time_s, 5.801 - 1.3 + 2.0, 'played');
  });

  test('audio used up before the video shows it: playback began then', () => {
    // Video only grows (appends) until 2.65, but audio went 3.0 (1.26) → 2.9 (1.4): playing
    // since 1.4 − 0.1 = 1.3 (not before 1.26). Startup 1.3 − 0 = 1.3.
    const q = computeSessionQoe([
      ...load(),
      buffer(1.26, 3.0, 'audio'),
      buffer(1.4, 2.9, 'audio'),
      buffer(2.65, 5.0),
      buffer(3.0, 4.65),
    ]);
    near(q.startup_time_s, 1.3, 'startup');
  });

  test('a viewer who leaves while the player is still fetching had a stall until then', () => {
    // The throttled run cut at 6.0: the buffer is dry since 5.3 and seg 3 is under way.
    // Stall 5.3 → 6.0 (the last event) = 0.7 s; played 5.3 − 1.3 = 4.0.
    const q = computeSessionQoe(throttledRun().filter((e) => e.timestamp <= T0 + 6.0));
    assert.equal(q.stall_count, 1);
    near(q.stall_time_s, 0.7, 'stall time');
    near(q.played_time_s, 4.0, 'played');
  });

  test('a run that loaded but never played is an exit before start', () => {
    // Buffer 2.0 then 4.0: it only rose, nothing was used up.
    const q = computeSessionQoe(load());
    assert.equal(q.startup_time_s, null);
    assert.equal(q.exit_before_start, true);
    assert.match(q.why_null?.startup_time_s ?? '', /never started/);
    assert.match(q.why_null?.stall_count ?? '', /never started/);
    assert.equal(q.played_time_s, 0);
  });

  test('a buffer that fills and drains at once still started (never exit before start)', () => {
    // 4.0 at 1.25, then 0 at 5.5: 4.0 s used up, so playback began at 5.5 − 4.0 = 1.5 and the
    // buffer is dry at 5.5 with nothing fetched: end of content. Startup 1.5 − 0 = 1.5,
    // played 5.5 − 1.5 = 4.0.
    const q = computeSessionQoe([...load(), buffer(5.5, 0)]);
    assert.equal(q.exit_before_start, false);
    near(q.startup_time_s, 1.5, 'startup');
    near(q.played_time_s, 4.0, 'played');
    assert.equal(q.stall_count, 0);
  });

  test('a session with a playing signal keeps it as the first frame', () => {
    // The buffer shows use from 1.5 on, but the player says it played at 1.7: its word counts
    // (the buffer rule is for sessions without any playing signal). Startup 1.7 − 0 = 1.7.
    const q = computeSessionQoe([...cleanRun(), ev(1.7, 'playback_started', { mpd_url: MPD })]);
    near(q.startup_time_s, 1.7, 'startup');
  });

  test('the stored-session fold gives what the in-memory one gives', async () => {
    for (const events of [cleanRun(), throttledRun()]) {
      const source = async function* () {
        yield [...events].sort((a, b) => a.timestamp - b.timestamp);
      };
      const streamed = await streamSessionQoe(
        source,
        'unknown',
        {},
        {
          first: Math.min(...events.map((e) => e.timestamp)),
          last: Math.max(...events.map((e) => e.timestamp)),
        },
      );
      assert.deepEqual(streamed, computeSessionQoe(events, { sessionId: 'unknown' }));
    }
  });

  test('the rendition of a download: quality index, else the segment URL', () => {
    // Without `quality`, seg-0-* → seg-2-* is a change of URL key, seg-2-004 → seg-2-005 is not.
    const noQuality = (s: number, seg: string) =>
      ev(s, 'fragment_loading_completed', {
        type: 'MediaSegment',
        url: `http://media.local/dash/${seg}`,
        media_type: 'video',
      });
    const q = computeSessionQoe([
      ...load(),
      buffer(1.5, 3.8),
      noQuality(2.0, 'seg-0-003.m4s'),
      noQuality(3.0, 'seg-2-004.m4s?x=1'),
      noQuality(4.0, 'seg-2-005.m4s'),
      buffer(4.5, 1.0),
    ]);
    assert.equal(q.switch_count, 1);
    assert.equal(segmentKey('http://m/a/seg-2-005.m4s?CMCD=x'), 'http://m/a/seg-2-#.m4s');
    assert.equal(segmentKey('http://m/v7/chunk.m4s'), 'http://m/v7/chunk.m4s');
    assert.equal(segmentKey(42), null);
  });
});

describe('startup needs an origin before the first frame (F11)', () => {
  test('one playback_started: no startup, not 0', () => {
    const q = computeSessionQoe([ev(0, 'playback_started', { mpd_url: MPD })]);
    assert.equal(q.startup_time_s, null);
    assert.match(q.why_null?.startup_time_s ?? '', /nothing before the first frame/);
    assert.equal(q.exit_before_start, false);
  });

  test('an event before it is the origin: startup from there', () => {
    // First event at 0 (a buffer update), playing at 0.8: 0.8 s.
    const q = computeSessionQoe([buffer(0, 0), ev(0.8, 'playback_started', { mpd_url: MPD })]);
    near(q.startup_time_s, 0.8, 'startup');
  });
});
