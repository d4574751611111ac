// Run splitting of fallback session keys (src/sessions/runs.ts), pure: the incremental update
// that ingest applies event by event, from a bounded window of groups around each event, equals
// the split computed from all events, whatever the arrival order. Starts nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { baseSessionKey, runKey } from '../../src/sessions/key.ts';
import {
  applyChange,
  changedStarts,
  keyAt,
  PREROLL_GAP_S,
  type RunPoint,
  RunRole,
  rekeys,
  runRoleOf,
  runSpans,
  startsOfPoints,
  windowCovers,
} from '../../src/sessions/runs.ts';
import { storedWindow } from '../helpers/run-window.ts';

/** Replays ingest: a window from the points stored so far, then changedStarts; stored keys move with rekeys. */
function incremental(points: readonly RunPoint[], gapS: number): { starts: number[]; keys: string[] } {
  const stored: RunPoint[] = [];
  let starts: number[] = [];
  const keys: string[] = [];
  for (const p of points) {
    const w = storedWindow(stored, p.t);
    assert.ok(windowCovers(w, p.t));
    const next = applyChange(starts, changedStarts(w, p.t, p.role, gapS));
    const storedLast = stored.reduce((m, s) => Math.max(m, s.t), Number.NEGATIVE_INFINITY);
    const { ranges } = rekeys('b', starts, next, storedLast);
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

const role = fc.constantFrom<RunRole>(RunRole.other, RunRole.load, RunRole.load, RunRole.start);

describe('session runs', () => {
  it('incremental starts and keys equal the split of all events, in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 80 }), role }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 12 }),
        (points, gap) => {
          const all = startsOfPoints(points, gap);
          const inc = incremental(points, gap);
          assert.deepEqual(inc.starts, all);
          points.forEach((p, i) => {
            assert.equal(inc.keys[i], keyAt('b', all, p.t));
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('windows are bounded: long bases with dense pre-rolls still agree', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 400 }), role }), {
          minLength: 100,
          maxLength: 300,
        }),
        (points) => {
          assert.deepEqual(incremental(points, 30).starts, startsOfPoints(points, 30));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a run starts at the first event of the load that precedes stream_initialized', () => {
    // Run 1 plays, then the page closes; 20 s later a new page loads init segments, reports an
    // empty buffer and only then fires stream_initialized.
    const run1: RunPoint[] = [
      { t: 100, role: RunRole.load },
      { t: 100.1, role: RunRole.load },
      { t: 100.2, role: RunRole.start },
      { t: 101, role: RunRole.other },
      { t: 120, role: RunRole.other },
      { t: 121, role: RunRole.load }, // the buffer drained at the end
    ];
    const run2: RunPoint[] = [
      { t: 140.5, role: RunRole.load },
      { t: 141.05, role: RunRole.load },
      { t: 141.2, role: RunRole.load },
      { t: 141.3, role: RunRole.start },
      { t: 142, role: RunRole.other },
    ];
    const starts = startsOfPoints([...run1, ...run2], 600);
    // One run per load: no ghost session of the first load, and run 2 keeps its pre-roll.
    assert.deepEqual(starts, [100, 140.5]);
    assert.equal(keyAt('m.mpd', starts, 121), 'm.mpd');
    assert.equal(keyAt('m.mpd', starts, 140.6), 'm.mpd#2');
    // A pre-roll ends at a silence longer than PREROLL_GAP_S, and at any other event.
    const late = [{ t: 130, role: RunRole.load }, ...run2.slice(1)];
    assert.deepEqual(startsOfPoints([{ t: 100, role: RunRole.other }, ...late], 600), [100, 141.05]);
    assert.ok(141.05 - 130 > PREROLL_GAP_S);
    const cut = [...run2.slice(0, 2), { t: 141.1, role: RunRole.other }, ...run2.slice(2)];
    assert.deepEqual(startsOfPoints([{ t: 100, role: RunRole.other }, ...cut], 600), [100, 141.2]);
  });

  it('splits at stream_initialized and after silence, numbering runs in time order', () => {
    const pts: RunPoint[] = [
      { t: 100, role: RunRole.start },
      { t: 101, role: RunRole.other },
      { t: 200, role: RunRole.start },
      { t: 201, role: RunRole.other },
      { t: 2000, role: RunRole.other },
    ];
    assert.deepEqual(startsOfPoints(pts, 600), [100, 200, 2000]);
    assert.equal(keyAt('m.mpd', [100, 200, 2000], 201), 'm.mpd#2');
    assert.equal(keyAt('m.mpd', [100, 200, 2000], 100.5), 'm.mpd');
    assert.deepEqual(startsOfPoints(pts, 0), [100, 200]);
  });

  it('roles: init segment loads and empty buffers belong to a new load', () => {
    assert.equal(runRoleOf({ event_type: 'stream_initialized', payload: {} }), RunRole.start);
    assert.equal(
      runRoleOf({ event_type: 'fragment_loading_started', payload: { type: 'InitializationSegment' } }),
      RunRole.load,
    );
    assert.equal(
      runRoleOf({ event_type: 'fragment_loading_completed', payload: { type: 'MediaSegment' } }),
      RunRole.load,
    );
    assert.equal(
      runRoleOf({ event_type: 'buffer_level_updated', payload: { buffer_level: 0 } }),
      RunRole.load,
    );
    assert.equal(
      runRoleOf({ event_type: 'buffer_level_updated', payload: { buffer_level: 3.2 } }),
      RunRole.other,
    );
    assert.equal(runRoleOf({ event_type: 'playback_started', payload: null }), RunRole.other);
  });

  it('a start before every run renames runs whose range did not change, and recomputes one', () => {
    const before = [100, 200, 300];
    const after = [50, 100, 200, 300];
    const r = rekeys('v', before, after, 350);
    // The new first run is made from its events once the new one is stored.
    assert.deepEqual(r.recompute, ['v']);
    assert.deepEqual(r.renamed, [
      { from: 'v', to: 'v#2' },
      { from: 'v#2', to: 'v#3' },
      { from: 'v#3', to: 'v#4' },
    ]);
    const split = rekeys('v', before, [100, 150, 200, 300], 350);
    assert.deepEqual(split.recompute, ['v', 'v#2']);
    // A new run at the end: the previous run is unchanged as far as stored events go.
    const atEnd = rekeys('v', [100], [100, 400], 350);
    assert.deepEqual([atEnd.ranges, atEnd.recompute, atEnd.renamed], [[], [], []]);
    assert.deepEqual(
      runSpans('v', [100, 150]).map((s) => [s.key, s.from, s.to]),
      [
        ['v', 100, 150],
        ['v#2', 150, null],
      ],
    );
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
