// Run splitting of fallback session keys (src/sessions/runs.ts), pure: the incremental update
// that ingest applies event by event equals the split computed from all events, whatever the
// arrival order. Starts nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { baseSessionKey, runKey } from '../src/sessions/key.ts';
import { keyAt, nextStarts, type RunPoint, rekeys, startsOf } from '../src/sessions/runs.ts';

/** Replays ingest: facts from the points stored so far, then nextStarts. */
function incremental(points: readonly RunPoint[], gapS: number): { starts: number[]; keys: string[] } {
  const stored: RunPoint[] = [];
  let starts: number[] = [];
  // session id of every stored point, re-keyed as ingest would
  const keys: string[] = [];
  for (const p of points) {
    const below = stored.filter((s) => s.t < p.t).map((s) => s.t);
    const above = stored.filter((s) => s.t > p.t).map((s) => s.t);
    const succ = above.length ? Math.min(...above) : null;
    const next = nextStarts(
      {
        starts,
        pred: below.length ? Math.max(...below) : null,
        succ,
        sameT: stored.some((s) => s.t === p.t),
        startEventAtSucc: stored.some((s) => s.t === succ && s.start),
      },
      p.t,
      p.start,
      gapS,
    );
    const { ranges } = rekeys('b', starts, next);
    for (const r of ranges) {
      stored.forEach((s, i) => {
        if (s.t >= r.from && (r.to === null || s.t < r.to)) keys[i] = r.key;
      });
    }
    stored.push(p);
    keys.push(keyAt('b', next, p.t));
    starts = next;
  }
  return { starts, keys };
}

const point = fc.record({ t: fc.integer({ min: 0, max: 60 }), start: fc.boolean() });

describe('session runs', () => {
  it('incremental starts and keys equal the split of all events, in any order', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 40 }), fc.integer({ min: 0, max: 12 }), (points, gap) => {
        const all = startsOf(points, gap);
        const inc = incremental(points, gap);
        assert.deepEqual(inc.starts, all);
        points.forEach((p, i) => {
          assert.equal(inc.keys[i], keyAt('b', all, p.t));
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('splits at stream_initialized and after silence, numbering runs in time order', () => {
    const pts: RunPoint[] = [
      { t: 100, start: true },
      { t: 101, start: false },
      { t: 200, start: true },
      { t: 201, start: false },
      { t: 2000, start: false },
    ];
    assert.deepEqual(startsOf(pts, 600), [100, 200, 2000]);
    assert.equal(keyAt('m.mpd', [100, 200, 2000], 201), 'm.mpd#2');
    assert.equal(keyAt('m.mpd', [100, 200, 2000], 100.5), 'm.mpd');
    assert.deepEqual(startsOf(pts, 0), [100, 200]);
  });

  it('the base key rule: session_id, else a non-empty string payload.session_id, else video_id', () => {
    assert.deepEqual(baseSessionKey({ session_id: 's', video_id: 'v', payload: { session_id: 'p' } }), {
      base: 's',
      source: 'session_id',
      split: false,
    });
    assert.equal(baseSessionKey({ video_id: 'v', payload: { session_id: 'p' } }).base, 'p');
    assert.equal(baseSessionKey({ video_id: 'v', payload: { session_id: 5 } }).base, 'v');
    assert.equal(baseSessionKey({ video_id: 'v', payload: { session_id: '' } }).base, 'v');
    assert.equal(baseSessionKey({ session_id: '', video_id: 'v', payload: {} }).base, 'v');
    assert.equal(baseSessionKey({ payload: {} }).base, 'unknown');
    assert.equal(runKey('v', 1), 'v');
    assert.equal(runKey('v', 3), 'v#3');
  });
});
