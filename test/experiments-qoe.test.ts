// GET /api/experiments/:id/qoe and /timeseries through app.inject() on every store: the routes
// feed src/qoe one session at a time (reporter session keyed by session_id, testbed session
// keyed by video_id), warm-up and session parameters, downsampled series, 400s and 404s.
// The QoE maths itself is unit-tested next to src/qoe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import type { EventDoc } from '../src/events/schema.ts';
import { AGGREGATED_METRICS } from '../src/qoe/index.ts';
import type { EventStore } from '../src/store/types.ts';
import { openStore, storeFixtures } from './helpers/stores.ts';

const EXP = 'exp_qoe';
const MPD = 'http://media.local/live/manifest.mpd';

function ev(t: number, event_type: string, payload: Record<string, unknown>, extra: object = {}): EventDoc {
  return {
    experiment_id: EXP,
    timestamp: t,
    event_type,
    protocol: 'dash',
    video_id: MPD,
    payload,
    ...extra,
    stored_at: new Date(),
  };
}

/** A reporter session: 1.5 s startup, one 2 s stall, one switch up, 30 s of buffer samples. */
function reporterSession(): EventDoc[] {
  const s = { session_id: 'r1' };
  const out = [
    ev(100, 'play_requested', { autoplay: true }, s),
    ev(101.5, 'playback_started', { startup_time_ms: 1500 }, s),
    ev(101.5, 'quality_change_rendered', { old_quality: 0, new_quality: 1, bitrate: 1_000_000 }, s),
    ev(110, 'rebuffer_event', { rebuffer_count: 1, buffer_level: 0, current_bitrate: 1_000_000 }, s),
    ev(112, 'rebuffer_ended', { duration_ms: 2000 }, s),
    ev(120, 'quality_change_rendered', { old_quality: 1, new_quality: 2, bitrate: 2_000_000 }, s),
    ev(131, 'playback_ended', { total_rebuffers: 1 }, s),
  ];
  for (let t = 102; t <= 130; t++) {
    out.push(
      ev(t, 'buffer_level_updated', { buffer_level: t === 110 ? 0 : (t % 5) + 1, media_type: 'video' }, s),
    );
  }
  return out;
}

/** A testbed session (no session id: keyed by video_id) that never reaches the first frame. */
function neverStarted(): EventDoc[] {
  const v = { video_id: 'http://media.local/other.mpd' };
  return [
    ev(50, 'stream_initialized', { mpd_url: v.video_id }, v),
    ev(51, 'fragment_loading_started', {}, v),
  ];
}

for (const fixture of storeFixtures()) {
  describe(`QoE and timeseries routes on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    let store: EventStore;

    before(async () => {
      const config = fixture.config();
      store = await openStore(config);
      app = await buildApp(config, { store });
      // Out of order on purpose: the routes must not rely on insertion order.
      await store.insertMany([...reporterSession().reverse(), ...neverStarted()]);
    });
    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
    });

    const get = (url: string) => app.inject({ method: 'GET', url });

    test('per-session QoE and aggregates over sessions', async () => {
      const res = await get(`/api/experiments/${EXP}/qoe`);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.experiment_id, EXP);
      assert.deepEqual(body.warmup, { mode: 'none' });
      assert.deepEqual(
        body.sessions.map((s: { session_id: string }) => s.session_id),
        ['http://media.local/other.mpd', 'r1'],
        'ordered by first event, as the sessions list',
      );
      const [never, r1] = body.sessions;
      assert.equal(r1.startup_time_s, 1.5);
      assert.equal(r1.stall_count, 1);
      assert.equal(r1.stall_time_s, 2);
      assert.equal(r1.fatal_error, false);
      assert.equal(r1.exit_before_start, false);
      assert.equal(r1.switch_count, r1.switches.length);
      assert.ok(r1.switches.some((s: { to_bps: number }) => s.to_bps === 2_000_000));
      assert.equal(r1.video_id, MPD);
      assert.equal(r1.protocol, 'dash');
      assert.equal(never.exit_before_start, true);
      assert.equal(never.startup_time_s, null);
      for (const m of AGGREGATED_METRICS) {
        assert.deepEqual(Object.keys(body.aggregate[m]).sort(), ['mean', 'median', 'n', 'p95'], m);
      }
      assert.equal(body.aggregate.startup_time_s.n, 1);
      assert.equal(body.aggregate.startup_time_s.mean, 1.5);
      assert.equal(body.aggregate.exit_before_start.n, 2);
      assert.equal(body.aggregate.exit_before_start.mean, 0.5);
    });

    test('session= picks one session; warmup is parsed and echoed', async () => {
      const one = (await get(`/api/experiments/${EXP}/qoe?session=r1&warmup=0.5`)).json();
      assert.deepEqual(one.warmup, { mode: 'fraction', fraction: 0.5 });
      assert.equal(one.sessions.length, 1);
      assert.equal(one.sessions[0].session_id, 'r1');
      const secs = (await get(`/api/experiments/${EXP}/qoe?session=r1&warmup=20`)).json();
      assert.deepEqual(secs.warmup, { mode: 'seconds', seconds: 20 });
      // The stall (t=110) lies inside a 20 s warm-up from t=100.
      assert.equal(secs.sessions[0].stall_count, 0);

      for (const bad of ['abc', '-1', '0x10', '1_0', 'Infinity']) {
        const res = await get(`/api/experiments/${EXP}/qoe?warmup=${bad}`);
        assert.equal(res.statusCode, 400, bad);
        assert.equal(res.json().code, 'INVALID_QUERY');
      }
      const noSession = await get(`/api/experiments/${EXP}/qoe?session=nope`);
      assert.equal(noSession.statusCode, 404);
      assert.equal(noSession.json().code, 'SESSION_NOT_FOUND');
      const noExp = await get('/api/experiments/nope/qoe');
      assert.equal(noExp.statusCode, 404);
      assert.equal(noExp.json().code, 'EXPERIMENT_NOT_FOUND');
    });

    test('timeseries: one session, bounded number of points, unit, time order', async () => {
      const res = await get(`/api/experiments/${EXP}/timeseries?metric=buffer&session=r1&max_points=10`);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.session_id, 'r1');
      assert.equal(body.metric, 'buffer');
      assert.equal(body.unit, 's');
      assert.ok(body.points.length > 0 && body.points.length <= 10, `${body.points.length} points`);
      for (let i = 1; i < body.points.length; i++) assert.ok(body.points[i][0] >= body.points[i - 1][0]);
      assert.ok(
        body.points.some((p: [number, number]) => p[1] === 0),
        'the buffer drain survives downsampling',
      );

      const all = (await get(`/api/experiments/${EXP}/timeseries?metric=buffer&session=r1`)).json();
      assert.equal(all.points.length, 29);
      const bitrate = (await get(`/api/experiments/${EXP}/timeseries?metric=bitrate&session=r1`)).json();
      assert.equal(bitrate.unit, 'bps');
      assert.ok(bitrate.points.some((p: [number, number]) => p[1] === 2_000_000));

      const dflt = (await get(`/api/experiments/${EXP}/timeseries?metric=latency`)).json();
      assert.equal(dflt.session_id, 'http://media.local/other.mpd', 'defaults to the first session');
      assert.deepEqual(dflt.points, []);

      const bad = await get(`/api/experiments/${EXP}/timeseries?metric=fps`);
      assert.equal(bad.statusCode, 400);
      assert.equal((await get(`/api/experiments/${EXP}/timeseries`)).statusCode, 400);
      assert.equal((await get('/api/experiments/nope/timeseries?metric=buffer')).statusCode, 404);
      assert.equal(
        (await get(`/api/experiments/${EXP}/timeseries?metric=buffer&session=nope`)).json().code,
        'SESSION_NOT_FOUND',
      );
    });
  });
}
