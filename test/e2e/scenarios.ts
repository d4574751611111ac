/**
 * The four real-player scenarios, run for one player by dashjs/hlsjs/shaka.test.ts: clean
 * playback to the end, media throttled mid-play (a switch and a stall), the page closed
 * mid-play (the queue arrives by beacon), and a server outage (every event stored once).
 * They assert invariants over the stored events, never exact sequences or timings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StoredEvent } from '../../src/events/schema.ts';
import { type E2E, e2eSkip, eventually, type PlayerPage, startE2E } from './harness/index.ts';

type Player = 'dashjs' | 'hlsjs' | 'shaka';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ofType = (events: StoredEvent[], type: string) => events.filter((e) => e.event_type === type);
const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
let seq = 0;

/** Invariants every session must meet: its ids, fields, and no event stored twice. */
function assertWellFormed(events: StoredEvent[], p: PlayerPage): void {
  const ids = new Set(events.map((e) => e.event_id));
  assert.equal(ids.size, events.length, 'every stored event has its own event_id (nothing stored twice)');
  for (const e of events) {
    assert.equal(e.session_id, p.config.sessionId);
    assert.equal(e.video_id, p.config.manifest);
    assert.equal(e.protocol, p.config.protocol);
    assert.ok(typeof e.event_id === 'string' && e.event_id.length > 0);
  }
  const starts = ofType(events, 'rebuffer_event');
  const ends = ofType(events, 'rebuffer_ended');
  assert.ok(
    ends.length <= starts.length && starts.length - ends.length <= 1,
    'stalls start and end in pairs',
  );
  const started = ofType(events, 'playback_started')[0];
  for (const s of starts) {
    assert.ok(started && s.timestamp >= started.timestamp, 'no stall is counted before the first frame');
  }
}

/** The QoE summary for the session; fails when the reply does not name it. */
async function qoe(e2e: E2E, experimentId: string, sessionId: string): Promise<Record<string, unknown>> {
  const res = await e2e.stats.app.inject(`/api/experiments/${experimentId}/qoe?session=${sessionId}`);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { sessions: Record<string, unknown>[] };
  const q = body.sessions.find((s) => s.session_id === sessionId);
  assert.ok(q, `the QoE reply names session ${sessionId}: got ${body.sessions.map((s) => s.session_id)}`);
  return q;
}

export function playerScenarios(player: Player, label: string): void {
  describe(`${label} in Chromium, reporting to stats-server`, { skip: e2eSkip }, () => {
    let e2e: E2E;
    before(
      async () => {
        e2e = await startE2E();
      },
      { timeout: 300_000 },
    );
    after(async () => {
      await e2e?.close();
    });

    const experiment = (name: string) => `e2e_${player}_${name}_${process.pid}_${++seq}`;
    const stored = async (p: PlayerPage) =>
      (await e2e.stats.events(p.config.experimentId)).filter((e) => e.session_id === p.config.sessionId);
    /** Destroys the reporter (final flush) and waits until the server holds everything it reported. */
    async function finish(p: PlayerPage): Promise<{ events: StoredEvent[]; reported: number }> {
      await p.eval('e2e.reporter.destroy()');
      const reported = await p.eval<number>('e2e.reporter.stats.reported');
      const events = await eventually(
        `the ${reported} reported events to be stored`,
        () => stored(p),
        (v) => v.length >= reported,
        30_000,
        (v) => `${v.length} stored`,
      );
      return { events, reported };
    }

    test('clean playback to the end: startup time, fragments, end event, sensible QoE', {
      timeout: 120_000,
    }, async () => {
      const p = await e2e.openPlayer({
        player,
        experimentId: experiment('clean'),
        reporter: { batch: { maxDelayMs: 1000 } },
      });
      const t0 = Date.now();
      await p.waitFor("e2e.events.some((e) => e.type === 'playback_ended')", 90_000);
      const wallMs = Date.now() - t0;
      const { events, reported } = await finish(p);
      assert.equal(events.length, reported, 'every reported event is stored');
      assertWellFormed(events, p);

      assert.equal(ofType(events, 'stream_initialized').length, 1);
      assert.equal(ofType(events, 'play_requested').length, 1);
      const [started] = ofType(events, 'playback_started');
      assert.ok(started, 'playback_started stored');
      const startup = num(started.payload.startup_time_ms);
      assert.ok(startup >= 0 && startup < wallMs, `startup_time_ms ${startup} is plausible`);

      const video = ofType(events, 'fragment_loading_completed').filter(
        (e) => e.payload.media_type === 'video' && e.payload.type === 'MediaSegment',
      );
      // Shaka probes an HLS stream by fetching first segments outside any stream context: those
      // are reported without media_type, so they count towards the video segments here.
      const probes = ofType(events, 'fragment_loading_completed').filter(
        (e) => e.payload.media_type === null && e.payload.type === 'MediaSegment',
      );
      const segments = Math.ceil(e2e.media.durationS / 2);
      assert.ok(
        video.length + probes.length >= segments,
        `${video.length} video segments (+${probes.length} without media type) reported, the stream has ${segments}`,
      );
      for (const f of video) {
        assert.ok(num(f.payload.bytes) > 0, 'fragment bytes');
        assert.ok(num(f.payload.download_time_ms) >= 0, 'fragment download time');
        assert.ok(num(f.payload.bitrate) > 0, 'fragment bitrate (bps)');
        assert.match(String(f.payload.url), /\/media\//);
      }
      assert.ok(
        video.some((f) => num(f.payload.throughput_bps) > 0),
        'throughput measured',
      );

      const [ended] = ofType(events, 'playback_ended');
      assert.ok(ended, 'playback_ended stored');
      assert.equal(ended.payload.total_rebuffers, ofType(events, 'rebuffer_event').length);
      assert.equal(ofType(events, 'playback_ended').length, 1);
      const periodic = ofType(events, 'periodic_metrics');
      assert.ok(periodic.length >= 3, 'periodic samples');
      for (const s of periodic) {
        assert.ok(num(s.payload.buffer_level) >= 0, 'buffer level in seconds');
        assert.ok(num(s.payload.current_time) <= e2e.media.durationS + 0.5, 'current_time in seconds');
        assert.ok(num(s.payload.current_bitrate) > 0, 'current bitrate in bps');
      }
      const stallMs = ofType(events, 'rebuffer_ended').reduce((a, e) => a + num(e.payload.duration_ms), 0);
      assert.ok(stallMs < wallMs, 'stall time below session time');
      const sessionEnd = ofType(events, 'session_ended');
      assert.deepEqual(
        sessionEnd.map((e) => e.payload.reason),
        ['destroy'],
      );

      const q = await qoe(e2e, p.config.experimentId, p.config.sessionId);
      assert.ok(num(q.startup_time_s) >= 0 && num(q.startup_time_s) < wallMs / 1000, 'QoE startup time');
      assert.ok(num(q.avg_bitrate_bps) > 0, 'QoE average bitrate');
      assert.equal(q.fatal_error, false);
      assert.equal(q.exit_before_start, false);
      assert.equal(q.stall_count, ofType(events, 'rebuffer_event').length);
    });

    test('media throttled mid-play: at least one rendition switch and one stall are recorded', {
      timeout: 150_000,
    }, async () => {
      const p = await e2e.openPlayer({
        player,
        experimentId: experiment('throttled'),
        bufferS: 4,
        reporter: { batch: { maxDelayMs: 500 } },
      });
      const t0 = Date.now();
      await p.waitFor('e2e.video.currentTime > 2.5', 45_000);
      // Below the lowest rendition (~40 KB/s with audio): a stall whatever the ABR does.
      await e2e.throttle(p.page, { downloadBytesPerS: 12_000, latencyMs: 50 });
      await p.waitFor("e2e.events.some((e) => e.type === 'rebuffer_event')", 60_000);
      await sleep(1500);
      await e2e.throttle(p.page);
      await p.waitFor("e2e.events.some((e) => e.type === 'rebuffer_ended')", 60_000);
      await p.waitFor(
        "e2e.events.some((e) => e.type === 'quality_change_rendered' && e.payload.media_type === 'video')",
        60_000,
      );
      const wallMs = Date.now() - t0;
      const { events, reported } = await finish(p);
      assert.equal(events.length, reported);
      assertWellFormed(events, p);

      const switches = ofType(events, 'quality_change_rendered').filter(
        (e) => e.payload.media_type === 'video',
      );
      assert.ok(switches.length >= 1, 'a rendered video switch is stored');
      for (const s of switches) {
        assert.ok(num(s.payload.bitrate) > 0 && num(s.payload.old_bitrate) > 0, 'switch bitrates in bps');
        assert.notEqual(s.payload.bitrate, s.payload.old_bitrate, 'a switch changes the bitrate');
      }
      const stalls = ofType(events, 'rebuffer_event');
      assert.ok(stalls.length >= 1, 'a stall is stored');
      assert.deepEqual(
        stalls.map((s) => s.payload.rebuffer_count),
        stalls.map((_, i) => i + 1),
        'stalls are numbered 1..n',
      );
      const ends = ofType(events, 'rebuffer_ended');
      assert.ok(ends.length >= 1);
      for (const e of ends) {
        const d = num(e.payload.duration_ms);
        assert.ok(d > 0 && d < wallMs, `stall duration ${d} ms is plausible`);
      }

      const q = await qoe(e2e, p.config.experimentId, p.config.sessionId);
      assert.ok(num(q.stall_count) >= 1, 'QoE counts the stall');
      assert.ok(num(q.stall_time_s) > 0 && num(q.stall_time_s) < wallMs / 1000, 'QoE stall time');
      assert.ok(num(q.switch_count) >= 1, 'QoE counts the switch');
      assert.ok(num(q.rebuffering_ratio) > 0 && num(q.rebuffering_ratio) < 1, 'QoE rebuffering ratio');
    });

    test('page closed mid-play: the queued events still arrive (beacon)', { timeout: 90_000 }, async () => {
      const p = await e2e.openPlayer({
        player,
        experimentId: experiment('closed'),
        // Nothing leaves before the page closes: everything must go out on pagehide.
        reporter: { batch: { maxEvents: 5000, maxDelayMs: 600_000 } },
      });
      await p.waitFor(
        "e2e.video.currentTime > 3 && e2e.events.some((e) => e.type === 'periodic_metrics')",
        45_000,
      );
      const before = await p.eval<{ reported: number; delivered: number }>('({ ...e2e.reporter.stats })');
      assert.equal(before.delivered, 0, 'nothing was sent before the page closed');
      await p.page.close({ runBeforeUnload: true });
      const events = await eventually(
        `the ${before.reported} queued events and session_ended to arrive by beacon`,
        () => stored(p),
        (v) => v.some((e) => e.event_type === 'session_ended') && v.length >= before.reported + 1,
        20_000,
        (v) => `${v.length} stored: ${[...new Set(v.map((e) => e.event_type))]}`,
      );
      assert.ok(
        events.length >= before.reported + 1,
        `${events.length} stored of ${before.reported} queued + session_ended`,
      );
      assertWellFormed(events, p);
      assert.deepEqual(
        ofType(events, 'session_ended').map((e) => e.payload.reason),
        ['pagehide'],
      );
      assert.equal(ofType(events, 'playback_started').length, 1);
    });

    test('server answering 503 for a while: every event arrives exactly once afterwards', {
      timeout: 120_000,
    }, async () => {
      const refusedBefore = e2e.stats.refused;
      e2e.stats.outage(5000, 1);
      const p = await e2e.openPlayer({
        player,
        experimentId: experiment('outage'),
        reporter: { batch: { maxDelayMs: 300 }, retry: { baseDelayMs: 200, maxDelayMs: 2000 } },
      });
      await p.waitFor('e2e.video.currentTime > 7', 60_000);
      const { events, reported } = await finish(p);
      const stats = await p.eval<{ retries: number; dropped: number }>('({ ...e2e.reporter.stats })');
      assert.ok(e2e.stats.refused > refusedBefore, 'the outage turned requests away');
      assert.ok(stats.retries > 0, 'the reporter retried');
      assert.equal(stats.dropped, 0, 'nothing was dropped');
      assert.deepEqual(await p.eval('e2e.drops'), []);
      assertWellFormed(events, p);
      const again = await stored(p);
      assert.equal(again.length, reported, 'stored count == reported count');
      assert.equal(
        new Set(again.map((e) => e.event_id)).size,
        reported,
        'distinct event ids == stored count',
      );
    });
  });
}
