// QoE of CMCD v2 sessions shaped as dash.js 5.2, hls.js 1.7 and Shaka 5.2 really report them
// (test/e2e/cmcd.e2e.test.ts, the players' CMCD code): CMCD lines in arrival order go through
// the collector's own decoder and mapping (src/cmcd) into stored events, then through src/qoe.
// Covers: object reports (rr) start no stalls and give no play states; sta=r before the first
// frame is startup; an implausibly small msd is not the startup; the session protocol is the
// first one that is not "cmcd"; flattened inner lists are read for video; sequences captured
// from the e2e's throttled sessions (hls.js bc with ot=v is a switch, its bl=0 on sta=p is no
// stall; dash.js's startup bsd is no stall, its real stall counts once). Pure: starts nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCmcdLines } from '../src/cmcd/decode.ts';
import { SessionMemory, toEvent } from '../src/cmcd/map.ts';
import { cmcdKeyValue } from '../src/cmcd/payload.ts';
import { computeSessionQoe, type QoeEvent, timeseries, toSignals } from '../src/qoe/index.ts';
import { cmcdTs, near, T0 } from './helpers/qoe.ts';

const ts = (s: number) => cmcdTs(s);

/** CMCD lines (one report each, arrival order) stored as the collector stores them. */
function stored(lines: string[]): QoeEvent[] {
  const { reports, problems } = decodeCmcdLines(lines.join('\n'));
  assert.deepEqual(problems, [], 'every line is valid CMCD');
  const memory = new SessionMemory();
  return reports.map(
    (r) => toEvent(r.data, { experimentId: 'exp', mode: 'event', now: new Date(), memory }) as QoeEvent,
  );
}

const HLS = 'http://127.0.0.1/media/hls';
const MPD = 'http://127.0.0.1/media/dash/manifest.mpd';

/**
 * hls.js 1.7: sf=h from its first report; `bl` is an inner list of one number; `rr` reports
 * carry the reporter's current data (bl, sta) but `ts` = the request's start, and right after
 * the start their bl is 0 while the interval reports show a full buffer.
 */
function hlsClean(): string[] {
  const sid = 'sid="h1",sf=h,v=2';
  return [
    `e=ps,${sid},sn=0,sta=s,ts=${ts(0)}`,
    `e=t,${sid},sn=1,sta=s,ts=${ts(0.001)}`,
    `e=rr,${sid},sn=2,rc=200,sta=s,ts=${ts(0.005)},ttfb=3,ttlb=4,url="${HLS}/index.m3u8"`,
    `br=(800),e=bc,${sid},ot=v,sn=3,sta=s,ts=${ts(0.05)}`,
    `bl=(0),e=rr,mtp=(5000),${sid},sn=4,rc=200,sta=s,ts=${ts(0.06)},ttfb=20,ttlb=300,url="${HLS}/v0/0.ts"`,
    `bl=(4000),br=(800),e=ps,mtp=(5000),${sid},sn=5,st=v,sta=p,ts=${ts(0.9)}`,
    // The micro-stall artefact: four rr reports after the first frame with bl=0.
    `bl=(0),br=(800),e=rr,mtp=(5000),${sid},sn=6,rc=200,sta=p,ts=${ts(1.0)},ttfb=20,ttlb=200,url="${HLS}/v0/1.ts"`,
    `bl=(6000),br=(800),e=t,mtp=(5000),${sid},sn=7,st=v,sta=p,ts=${ts(1.2)}`,
    `bl=(0),br=(800),e=rr,mtp=(5000),${sid},sn=8,rc=200,sta=p,ts=${ts(1.3)},ttfb=20,ttlb=200,url="${HLS}/v0/2.ts"`,
    `bl=(0),br=(800),e=rr,mtp=(5000),${sid},sn=9,rc=200,sta=p,ts=${ts(1.7)},ttfb=20,ttlb=200,url="${HLS}/v0/3.ts"`,
    `bl=(0),br=(800),e=rr,mtp=(5000),${sid},sn=10,rc=200,sta=p,ts=${ts(2.1)},ttfb=20,ttlb=200,url="${HLS}/v0/4.ts"`,
    `bl=(8000),br=(800),e=t,mtp=(5000),${sid},sn=11,st=v,sta=p,ts=${ts(3.2)}`,
    `bl=(9000),br=(800),e=t,mtp=(5000),${sid},sn=12,st=v,sta=p,ts=${ts(5.2)}`,
    `bl=(0),br=(800),e=ps,${sid},sn=13,st=v,sta=e,ts=${ts(20)}`,
  ];
}

/**
 * dash.js 5.2: its first reports come before the manifest (no sf: protocol "cmcd"); its msd is
 * taken right after the play request (2 ms); it reports sta=r while waiting for the first frame
 * and later puts that wait's duration (bsd) on the next video request's rr; lists are
 * `(video;v audio;a)`.
 */
function dashClean(): string[] {
  const sid = 'sid="d1",v=2';
  const known = `${sid},sf=d,st=v`;
  return [
    `e=t,${sid},sn=0,ts=${ts(0)}`,
    `e=ps,msd=2,${sid},sn=1,sta=s,ts=${ts(0.004)}`,
    `e=rr,ot=m,rc=200,${sid},sn=2,sta=s,ts=${ts(0.003)},ttfb=1700000000050,ttlb=60,url="${MPD}"`,
    `bl=(0;v 0;a),br=(800;v 128;a),e=ps,${known},sn=3,sta=r,ts=${ts(0.3)}`,
    `bl=(0;v 0;a),br=(800;v 128;a),d=2000,e=rr,ot=v,rc=200,${known},sn=4,sta=r,su,ts=${ts(0.32)},ttlb=400,url="${MPD}/v0/1.m4s"`,
    `bl=(4000;v 3900;a),br=(800;v 128;a),e=ps,pb=(800;v 128;a),${known},sn=5,sta=p,ts=${ts(1.1)}`,
    // The startup wait's duration, on the next video request after the first frame.
    `bl=(6000;v 5900;a),br=(800;v 128;a),bsd=(780;v),d=2000,e=rr,ot=v,rc=200,${known},sn=6,sta=p,ts=${ts(1.5)},ttlb=300,url="${MPD}/v0/2.m4s"`,
    `e=t,${known},sn=7,sta=p,ts=${ts(2)}`,
    `e=t,${known},sn=8,sta=p,ts=${ts(4)}`,
    `bl=(1000;v 900;a),br=(800;v 128;a),e=ps,pb=(800;v 128;a),${known},sn=9,sta=e,ts=${ts(20)}`,
  ];
}

/**
 * Shaka 5.2 (debug bundle): no bl, no sta=s; `buffering` at load sends sta=r before the first
 * frame; msd (from load() to the first frame) rides on the report after sta=p; sf only once
 * the manifest is parsed.
 */
function shakaClean(): string[] {
  const sid = 'sid="k1",v=2';
  const known = `${sid},sf=h,st=v`;
  return [
    `e=t,${sid},sn=0,ts=${ts(0)}`,
    `e=ps,${sid},sn=1,sta=r,ts=${ts(0.05)}`,
    `e=rr,rc=200,${sid},sn=2,sta=r,ts=${ts(0.02)},ttfb=10,ttlb=20,url="${HLS}/index.m3u8"`,
    `br=(800),e=bc,${known},sn=3,sta=r,ts=${ts(0.4)}`,
    `br=(800),e=ps,${known},sn=4,sta=p,ts=${ts(1.2)}`,
    `br=(800),e=t,msd=1190,${known},sn=5,sta=p,ts=${ts(2)}`,
    `br=(800),e=ps,${known},sn=6,sta=e,ts=${ts(20)}`,
  ];
}

describe('hls.js', () => {
  test('rr buffer levels of 0 after the start are no stalls (clean session)', () => {
    const q = computeSessionQoe(stored(hlsClean()));
    assert.equal(q.protocol, 'hls');
    near(q.startup_time_s, 0.9, 'startup from sta s -> p (hls.js sends no msd)');
    assert.equal(q.stall_count, 0);
    assert.equal(q.stall_time_s, 0);
    near(q.played_time_s, 19.1, 'played from the first frame to the end');
    // The rr levels still feed the buffer plot; they only no longer start stalls.
    const buffer = timeseries(stored(hlsClean()), 'buffer').points;
    assert.ok(buffer.some(([t, s]) => t === T0 + 1 && s === 0));
  });

  test('a real stall: rr reports inside it neither end nor split it; interval sta=r does not split it', () => {
    const sid = 'sid="h2",sf=h,v=2';
    const lines = hlsClean()
      .filter((l) => !l.includes('sta=e'))
      .concat([
        `bl=(0),br=(800),e=ps,${sid},sn=20,st=v,sta=r,ts=${ts(8)}`,
        // Requested during the stall, answered after the resume: the current sta (p) and bl,
        // stamped with the request's start.
        `bl=(2000),br=(800),e=rr,mtp=(300),${sid},sn=21,rc=200,sta=p,ts=${ts(8.5)},ttfb=900,ttlb=3400,url="${HLS}/v0/5.ts"`,
        // The buffer refills during the stall (a weak sign), the state is still rebuffering.
        `bl=(300),br=(800),e=t,${sid},sn=22,st=v,sta=r,ts=${ts(9)}`,
        `bl=(1500),br=(800),e=t,${sid},sn=23,st=v,sta=r,ts=${ts(11)}`,
        `bl=(2000),br=(800),e=ps,${sid},sn=24,st=v,sta=p,ts=${ts(12)}`,
        `bl=(0),br=(800),e=ps,${sid},sn=25,st=v,sta=e,ts=${ts(20)}`,
      ])
      .map((l) => l.replace('sid="h1"', 'sid="h2"'));
    const q = computeSessionQoe(stored(lines));
    assert.deepEqual(
      q.stalls.map((s) => [s.start - T0, s.end - T0]),
      [[8, 12]],
    );
    near(q.stall_time_s, 4, 'stall time');
  });

  test('object reports give no stall-starting buffer signals; rr gives no play state', () => {
    const [rr] = stored([`bl=(0),e=rr,sid="h3",sf=h,v=2,sn=1,rc=200,sta=r,ts=${ts(1)},url="${HLS}/v0/1.ts"`]);
    assert.deepEqual(toSignals(rr!), [{ kind: 'buffer', t: T0 + 1, s: 0, forStalls: false }]);
    const [bc] = stored([`bl=(0),br=(800),e=bc,ot=v,sid="h3",sf=h,v=2,sn=2,sta=p,ts=${ts(2)}`]);
    assert.ok(toSignals(bc!).every((s) => s.kind !== 'buffer' || !s.forStalls));
    const [audio] = stored([
      `bl=(0),e=rr,ot=a,sid="h3",sf=h,v=2,sn=3,rc=200,ts=${ts(3)},url="${HLS}/a/1.aac"`,
    ]);
    assert.deepEqual(toSignals(audio!), [], 'an audio object buffer is not even plotted');
    // Request-mode data is sent with the request: its sta is the state then (a level, no
    // transition), its bl and bsd are not stall signals.
    const request = toEvent(
      { bl: [0], bsd: [700], ot: 'v', sid: 'h3', sta: 'r', su: true, v: 2 },
      { experimentId: 'exp', mode: 'request', now: new Date(T0 * 1000 + 4000) },
    ) as QoeEvent;
    assert.equal(request.event_type, 'cmcd_request');
    assert.deepEqual(toSignals(request), [
      { kind: 'stall_start', t: T0 + 4, level: true },
      { kind: 'buffer', t: T0 + 4, s: 0, forStalls: false },
    ]);
  });
});

describe('dash.js', () => {
  test('clean session: no stall from the startup wait, startup from timestamps, protocol dash', () => {
    const events = stored(dashClean());
    assert.equal(events[0]!.protocol, 'cmcd', 'the first reports come before sf is known');
    const q = computeSessionQoe(events);
    assert.equal(q.protocol, 'dash');
    // msd=2 ms is under half of sta=p - sta=s (1.096 s): the timestamps win.
    near(q.startup_time_s, 1.096, 'startup');
    assert.equal(q.stall_count, 0, 'sta=r before sta=p is startup; its bsd on an rr is no stall');
    assert.equal(q.stall_time_s, 0);
    near(q.played_time_s, 18.9, 'played from the first sta=p');
    assert.equal(q.exit_before_start, false);
    near(q.avg_bitrate_bps, 800_000, 'video entry of br=(800;v 128;a)');
  });

  test('a stall after the first frame counts once, even with its bsd on a later rr', () => {
    const known = 'sid="d1",v=2,sf=d,st=v';
    const lines = dashClean()
      .filter((l) => !l.includes('sta=e'))
      .concat([
        `bl=(0;v 300;a),br=(800;v 128;a),e=ps,${known},sn=20,sta=r,ts=${ts(8)}`,
        `bl=(2500;v 2400;a),br=(400;v 128;a),e=ps,pb=(400;v 128;a),${known},sn=21,sta=p,ts=${ts(10)}`,
        // The next video request, 4 s after the stall ended, carries bsd=2000.
        `bl=(6000;v 5900;a),br=(400;v 128;a),bsd=(2000;v),d=2000,e=rr,ot=v,rc=200,${known},sn=22,sta=p,ts=${ts(14)},ttlb=300,url="${MPD}/v0/7.m4s"`,
        `bl=(1000;v 900;a),e=ps,${known},sn=23,sta=e,ts=${ts(20)}`,
      ]);
    const q = computeSessionQoe(stored(lines));
    assert.deepEqual(
      q.stalls.map((s) => [s.start - T0, s.end - T0]),
      [[8, 10]],
    );
    near(q.startup_time_s, 1.096, 'startup');
  });

  test('msd rule: a plausible msd is believed, msd without any playing signal marks the start', () => {
    // The same session with an msd close to the timestamps' 1.096 s: the player's figure wins.
    const plausible = dashClean().map((l) => l.replace('msd=2,', 'msd=1000,'));
    near(computeSessionQoe(stored(plausible)).startup_time_s, 1, 'msd 1000 ms');
    // No play states at all (Shaka's release bundle loses sta): msd is the startup and its
    // report the first sign of playback.
    const noStates = stored([
      `br=(800),e=bc,sid="k9",sf=h,st=v,v=2,sn=0,ts=${ts(0.4)}`,
      `br=(800),e=t,msd=1190,sid="k9",sf=h,st=v,v=2,sn=1,ts=${ts(2)}`,
      `br=(800),e=t,sid="k9",sf=h,st=v,v=2,sn=2,ts=${ts(12)}`,
    ]);
    const q = computeSessionQoe(noStates);
    near(q.startup_time_s, 1.19, 'startup from msd');
    near(q.played_time_s, 10, 'played from the msd report');
  });
});

describe('Shaka', () => {
  test('sta=r before the first frame is startup; msd from load() is believed; protocol hls', () => {
    const q = computeSessionQoe(stored(shakaClean()));
    assert.equal(q.protocol, 'hls');
    assert.equal(q.stall_count, 0);
    near(q.startup_time_s, 1.19, 'msd (no play request to contradict it)');
    near(q.played_time_s, 18.8, 'played from sta=p');
  });

  test('a stall after the first frame counts', () => {
    const known = 'sid="k1",v=2,sf=h,st=v';
    const lines = shakaClean()
      .filter((l) => !l.includes('sta=e'))
      .concat([
        `br=(800),e=ps,${known},sn=10,sta=r,ts=${ts(8)}`,
        `br=(400),e=bc,${known},sn=11,sta=r,ts=${ts(9)}`,
        `br=(400),e=ps,${known},sn=12,sta=p,ts=${ts(11)}`,
        `br=(400),e=ps,${known},sn=13,sta=e,ts=${ts(20)}`,
      ]);
    const q = computeSessionQoe(stored(lines));
    assert.deepEqual(
      q.stalls.map((s) => [s.start - T0, s.end - T0]),
      [[8, 11]],
    );
    assert.equal(q.switch_count, 1);
  });
});

describe('real throttled sessions (test/e2e/cmcd.e2e.test.ts, captured)', () => {
  test('hls.js 1.7: its down-switch is a bc with ot=v; it counts as a switch', () => {
    // Captured from the throttled hls.js session (bl, br, sta, ot as stored; times relative).
    const sid = 'sid="hx",sf=h,v=2';
    const q = computeSessionQoe(
      stored([
        `e=ps,${sid},sn=0,sta=d,ts=${ts(0.002)}`,
        `br=(319),e=bc,${sid},sn=1,sta=d,ts=${ts(0.027)}`,
        `br=(319),e=ps,${sid},sn=2,sta=s,ts=${ts(0.043)}`,
        `bl=(0),br=(2569),e=bc,${sid},sn=3,sta=s,ts=${ts(0.341)}`,
        `bl=(0),br=(2569),e=rr,${sid},sn=4,rc=200,sta=p,ts=${ts(0.37)},url="${HLS}/v2/0.m4s"`,
        `bl=(0),br=(2569),e=ps,${sid},sn=5,sta=p,ts=${ts(0.379)}`,
        `bl=(5900),br=(2569),e=t,${sid},sn=6,sta=p,ts=${ts(2)}`,
        `bl=(5900),br=(2569),e=t,${sid},sn=7,sta=p,ts=${ts(4.001)}`,
        `bl=(3300),br=(319),e=bc,ot=v,${sid},sn=8,sta=p,ts=${ts(5.428)}`,
        `bl=(3300),br=(319),e=rr,${sid},sn=9,rc=200,sta=p,ts=${ts(5.439)},url="${HLS}/v0/3.m4s"`,
        `bl=(3300),br=(319),e=t,${sid},sn=10,sta=p,ts=${ts(6)}`,
        `bl=(2900),br=(319),e=t,${sid},sn=11,sta=p,ts=${ts(8)}`,
        `bl=(0),br=(319),e=ps,${sid},sn=12,sta=e,ts=${ts(20)}`,
      ]),
    );
    assert.deepEqual(
      q.switches.map((s) => [Math.round((s.timestamp - T0) * 1000), s.from_bps, s.to_bps]),
      [[5428, 2_569_000, 319_000]],
      'the up-switch before the first frame is startup, the bc with ot=v is the switch',
    );
    assert.equal(q.stall_count, 0, 'the bl=0 rr reports at the start are no stall');
    // An audio bc is no video switch.
    const [audio] = stored([`br=(64),e=bc,ot=a,${sid},sn=13,sta=p,ts=${ts(9)}`]);
    assert.ok(toSignals(audio!).every((s) => s.kind !== 'rendition'));
  });

  test('dash.js 5.2: the bsd on the first video rr is the wait for the first frame, not a stall', () => {
    // Captured: sta=r at 0.321, sta=p at 0.470, then bsd=149 (= 0.470 - 0.321) on the next
    // video request. The e2e used to take that bsd for a stall and lift the throttle too early.
    const sid = 'sid="dx",v=2';
    const known = `${sid},sf=d,st=v`;
    const q = computeSessionQoe(
      stored([
        `e=t,${sid},sn=0,ts=${ts(0)}`,
        `bl=(0;v),e=ps,msd=3,${sid},sn=1,sta=s,ts=${ts(0.005)}`,
        `bl=(0;v),br=(250;v),e=ps,${known},sn=2,sta=r,ts=${ts(0.321)}`,
        `bl=(0;v),br=(250;v),e=rr,ot=v,rc=200,${known},sn=3,sta=r,ts=${ts(0.341)},url="${MPD}/v0/1.m4s"`,
        `bl=(2000;v),br=(250;v),e=ps,${known},sn=4,sta=p,ts=${ts(0.47)}`,
        `bl=(1400;v),br=(2500;v),bsd=(149;v),e=rr,ot=v,rc=200,${known},sn=5,sta=p,ts=${ts(1.041)},url="${MPD}/v2/1.m4s"`,
        `e=t,${known},sn=6,sta=p,ts=${ts(2)}`,
        `bl=(1500;v),br=(2500;v),e=rr,ot=v,rc=200,${known},sn=7,sta=p,ts=${ts(3.103)},url="${MPD}/v2/2.m4s"`,
        `e=t,${known},sn=8,sta=p,ts=${ts(4)}`,
        `bl=(0;v),br=(2500;v),e=ps,${known},sn=9,sta=e,ts=${ts(20.719)}`,
      ]),
    );
    assert.equal(q.stall_count, 0);
    near(q.startup_time_s, 0.465, 'startup sta=s -> sta=p');
  });

  test('dash.js 5.2: a real throttled stall (ps r -> ps p, its bsd on a later rr) counts once', () => {
    // Captured: bl=0 on rr reports while starved, sta=r at 8.615, sta=p at 8.747, then
    // bsd=132 (the stall) on the video request at 11.250.
    const known = 'sid="dy",v=2,sf=d,st=v';
    const q = computeSessionQoe(
      stored([
        `bl=(0;v),br=(250;v),e=ps,${known},sn=0,sta=s,ts=${ts(0.007)}`,
        `bl=(0;v),br=(250;v),e=ps,${known},sn=1,sta=r,ts=${ts(0.176)}`,
        `bl=(2000;v),br=(250;v),e=ps,${known},sn=2,sta=p,ts=${ts(0.418)}`,
        `bl=(1500;v),br=(2500;v),bsd=(241;v),e=rr,ot=v,rc=200,${known},sn=3,sta=p,ts=${ts(0.895)},url="${MPD}/v2/1.m4s"`,
        `e=t,${known},sn=4,sta=p,ts=${ts(4)}`,
        `bl=(0;v),br=(250;v),e=rr,ot=v,rc=200,${known},sn=5,sta=p,ts=${ts(5.003)},url="${MPD}/v0/3.m4s"`,
        `bl=(0;v),br=(250;v),e=rr,ot=v,rc=200,${known},sn=6,sta=p,ts=${ts(5.789)},url="${MPD}/v0/4.m4s"`,
        `e=t,${known},sn=7,sta=p,ts=${ts(8.001)}`,
        `bl=(0;v),br=(250;v),e=ps,${known},sn=8,sta=r,ts=${ts(8.615)}`,
        `bl=(100;v),br=(250;v),e=rr,ot=v,rc=200,${known},sn=9,sta=r,ts=${ts(8.729)},url="${MPD}/v0/5.m4s"`,
        `bl=(4100;v),br=(250;v),e=ps,${known},sn=10,sta=p,ts=${ts(8.747)}`,
        `e=t,${known},sn=11,sta=p,ts=${ts(10)}`,
        `bl=(1800;v),br=(250;v),bsd=(132;v),e=rr,ot=v,rc=200,${known},sn=12,sta=p,ts=${ts(11.25)},url="${MPD}/v0/6.m4s"`,
        `bl=(0;v),br=(800;v),e=ps,${known},sn=13,sta=e,ts=${ts(20.941)}`,
      ]),
    );
    assert.deepEqual(
      q.stalls.map((s) => [Math.round((s.start - T0) * 1000), Math.round((s.end - T0) * 1000)]),
      [[8615, 8747]],
    );
  });
});

describe('stored CMCD value shapes', () => {
  test('flattened inner lists: the video entry, never an audio-only headline', () => {
    assert.equal(cmcdKeyValue({ bl: 6000, bl_v: 6000, bl_a: 3000 }, 'bl'), 6000);
    assert.equal(cmcdKeyValue({ bl: 3000, bl_a: 3000 }, 'bl'), null);
    assert.equal(cmcdKeyValue({ bl: 5000, bl_av: 5000 }, 'bl'), 5000);
    assert.equal(cmcdKeyValue({ bl: 1200 }, 'bl'), 1200);
    assert.equal(cmcdKeyValue({ bl: [{ value: 900, params: { v: true } }] }, 'bl'), 900);
    assert.equal(cmcdKeyValue({}, 'bl'), null);
    // dash.js with only the audio buffer known: no video buffer signal at all.
    const [ps] = stored([`bl=(0;a),e=ps,sid="x",sf=d,v=2,sn=0,sta=p,ts=${ts(1)}`]);
    assert.deepEqual(toSignals(ps!), [{ kind: 'playing', t: T0 + 1 }]);
  });

  test('session protocol: the earliest that is not "cmcd", whatever the arrival order', () => {
    const at = (t: number, protocol: string): QoeEvent => ({
      timestamp: T0 + t,
      event_type: 'cmcd_t',
      protocol,
      session_id: 's',
      payload: {},
    });
    assert.equal(computeSessionQoe([at(0, 'cmcd'), at(2, 'hls'), at(1, 'dash')]).protocol, 'dash');
    assert.equal(computeSessionQoe([at(0, 'cmcd'), at(1, 'cmcd')]).protocol, 'cmcd');
    assert.equal(computeSessionQoe([at(0, 'dash')]).protocol, 'dash');
  });
});
