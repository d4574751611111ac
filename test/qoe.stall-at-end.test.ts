// The end-of-content rule of src/qoe/playback.ts on CMCD sessions shaped as hls.js 1.7 sends
// them (captured in the e2e): a VOD whose audio runs ~11 ms past its video leaves hls.js
// waiting on the last frame, reporting sta=r with its last (full) bl until the page closes;
// that is the end of the content, not a stall. A player that starves (bl ~0) until the
// viewer leaves still has a stall, and so has a full-buffer stall that playback resumed from.
// CMCD lines go through the collector's decoder and mapping, then src/qoe. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCmcdLines } from '../src/cmcd/decode.ts';
import { SessionMemory, toEvent } from '../src/cmcd/map.ts';
import { computeSessionQoe, type QoeEvent } from '../src/qoe/index.ts';

const T0 = 1_700_000_000;
const ts = (s: number) => Math.round((T0 + s) * 1000);

function stored(lines: string[]): QoeEvent[] {
  const { reports, problems } = decodeCmcdLines(lines.join('\n'));
  assert.deepEqual(problems, []);
  const memory = new SessionMemory();
  return reports.map(
    (r) => toEvent(r.data, { experimentId: 'exp', mode: 'event', now: new Date(), memory }) as QoeEvent,
  );
}

const SID = 'sid="h1",sf=h,v=2';

/** A clean 20 s hls.js playback up to its last frame (first frame at 0.6 s). */
function played(): string[] {
  const lines = [
    `e=ps,${SID},sn=0,sta=s,ts=${ts(0)}`,
    `bl=(3900),br=(2500),e=ps,${SID},sn=1,st=v,sta=p,ts=${ts(0.6)}`,
  ];
  for (let s = 2, sn = 2; s <= 20; s += 2, sn++) {
    lines.push(`bl=(10000),br=(2500),e=t,${SID},sn=${sn},st=v,sta=p,ts=${ts(s)}`);
  }
  return lines;
}

/** Then the player waits on the last frame with `bl` frozen, reporting every 2 s for `forS`. */
function stuckAtEnd(blMs: number, forS: number): string[] {
  const lines = [`bl=(${blMs}),br=(2500),e=ps,${SID},sn=100,st=v,sta=r,ts=${ts(20.6)}`];
  for (let s = 22, sn = 101; s <= 20.6 + forS; s += 2, sn++) {
    lines.push(`bl=(${blMs}),br=(2500),e=t,${SID},sn=${sn},st=v,sta=r,ts=${ts(s)}`);
  }
  return lines;
}

test('hls.js waiting on the last frame with a full buffer until the end: no stall', () => {
  const q = computeSessionQoe(stored([...played(), ...stuckAtEnd(10_000, 78)]));
  assert.equal(q.stall_count, 0);
  assert.equal(q.stall_time_s, 0);
  assert.equal(q.rebuffering_ratio, 0);
  assert.ok(Math.abs(Number(q.played_time_s) - 20) < 1e-6, `played ${q.played_time_s}`);
});

test('a starving player (buffer empty) until the viewer leaves: the stall counts', () => {
  const q = computeSessionQoe(stored([...played(), ...stuckAtEnd(0, 10)]));
  assert.equal(q.stall_count, 1);
  assert.ok(Number(q.stall_time_s) > 9, `stall time ${q.stall_time_s}`);
});

test('a stall with a full buffer that playback resumed from still counts', () => {
  const q = computeSessionQoe(
    stored([
      ...played().slice(0, 6),
      `bl=(8000),br=(2500),e=ps,${SID},sn=50,st=v,sta=r,ts=${ts(9)}`,
      `bl=(8000),br=(2500),e=ps,${SID},sn=51,st=v,sta=p,ts=${ts(10)}`,
      `bl=(0),e=ps,${SID},sn=52,st=v,sta=e,ts=${ts(20)}`,
    ]),
  );
  assert.equal(q.stall_count, 1);
  assert.ok(Math.abs(Number(q.stall_time_s) - 1) < 1e-6, `stall time ${q.stall_time_s}`);
});
