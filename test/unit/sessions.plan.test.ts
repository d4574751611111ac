// The session engine's planner (src/sessions/plan.ts), pure: an in-memory store that only
// executes plans (keys, moves, renames, recomputes, deltas) ends with the sessions a batch
// computation over all events gives, for random events of several bases and explicit
// sessions (load, start and other roles, ties, empty and "unknown" videos, empty and "cmcd"
// protocols), split into random groups arriving in random order. Starts nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BaseKey, baseSessionKey } from '../../src/sessions/key.ts';
import { type BaseState, emptyBase, GroupPlanner, type PlanEvent } from '../../src/sessions/plan.ts';
import { keyAt, type RunWindow, runIndexAt, runRoleOf, startsOfPoints } from '../../src/sessions/runs.ts';
import { addToDelta, type Delta, newDelta } from '../../src/sessions/summary.ts';
import { storedWindow } from '../helpers/run-window.ts';

interface Ev {
  id: string;
  timestamp: number;
  event_type: string;
  video_id: string;
  protocol: string;
  session_id?: string;
  payload: Record<string, unknown>;
}

const GAP = 20;

/** A store that keeps events and summaries in memory and executes plans. */
class MemoryStore {
  events: Array<Ev & { key: string; base: string | null }> = [];
  /** Summaries by rowId: runs and explicit sessions never share a row, even with one id. */
  rows = new Map<string, Delta>();
  states = new Map<string, BaseState>();

  window(base: string, t: number): RunWindow {
    const pts = this.events
      .filter((e) => e.base === base)
      .map((e) => ({ t: e.timestamp, role: runRoleOf(e) }));
    return storedWindow(pts, t);
  }

  insert(group: readonly Ev[]): void {
    const evs: PlanEvent[] = group.map((e) => ({ ...e, bk: baseSessionKey(e), role: runRoleOf(e) }));
    const states = new Map<string, BaseState>();
    for (const e of evs) {
      if (!e.bk.split || states.has(e.bk.base)) continue;
      states.set(e.bk.base, this.states.get(e.bk.base) ?? emptyBase(e.bk.base, e.bk.source));
    }
    const planner = new GroupPlanner(GAP, states);
    for (const m of planner.missingWindows(evs)) planner.addWindow(m.base, this.window(m.base, m.t));
    const plan = planner.plan(evs);
    group.forEach((e, i) => {
      const bk = (evs[i] as PlanEvent).bk;
      this.events.push({ ...e, key: plan.keys[i] as string, base: bk.split ? bk.base : null });
    });
    for (const b of plan.bases) {
      for (const r of b.ranges)
        for (const e of this.events)
          if (e.base === b.base && e.timestamp >= r.from && (r.to === null || e.timestamp < r.to))
            e.key = r.key;
      const moved = b.renamed.map((x) => ({ ...x, row: this.rows.get(rowId(true, x.from)) as Delta }));
      for (const k of [...b.renamed.map((x) => x.from), ...b.recompute.map((s) => s.key), ...b.gone])
        this.rows.delete(rowId(true, k));
      for (const x of moved) this.rows.set(rowId(true, x.to), { ...x.row, key: x.to, runNo: x.runNo });
      const bk: BaseKey = { base: b.base, source: b.source, split: true };
      for (const s of b.recompute) {
        let d: Delta | undefined;
        for (const e of this.events) {
          if (e.base !== b.base || e.timestamp < s.from || (s.to !== null && e.timestamp >= s.to)) continue;
          if (d) addToDelta(d, e, e.id);
          else d = newDelta(s.key, bk, s.runNo, e, e.id);
        }
        if (d) this.rows.set(rowId(true, s.key), d);
      }
      this.states.set(b.base, b.next);
    }
    for (const d of plan.deltas) {
      const id = rowId(d.base !== null, d.key);
      const row = this.rows.get(id);
      if (!row) {
        this.rows.set(id, { ...d });
        continue;
      }
      mergeDelta(row, d);
    }
  }
}

const rowId = (run: boolean, key: string) => `${run ? 'run' : 'session'}:${key}`;

/** Merges a delta into a stored row, earliest wins with ties to the smaller id. */
function mergeDelta(row: Delta, d: Delta): void {
  row.count += d.count;
  if (d.firstTs < row.firstTs || (d.firstTs === row.firstTs && d.firstId < row.firstId)) {
    row.firstTs = d.firstTs;
    row.firstId = d.firstId;
    row.firstProtocol = d.firstProtocol;
  }
  if (d.lastTs > row.lastTs) row.lastTs = d.lastTs;
  if (
    d.videoAt !== null &&
    (row.videoAt === null ||
      d.videoAt < row.videoAt ||
      (d.videoAt === row.videoAt && d.videoRef < row.videoRef))
  ) {
    row.videoAt = d.videoAt;
    row.videoRef = d.videoRef;
    row.videoId = d.videoId;
  }
  if (
    d.knownAt !== null &&
    (row.knownAt === null ||
      d.knownAt < row.knownAt ||
      (d.knownAt === row.knownAt && d.knownId < row.knownId))
  ) {
    row.knownAt = d.knownAt;
    row.knownId = d.knownId;
    row.knownProtocol = d.knownProtocol;
  }
}

/** The sessions of all events at once. */
function batch(all: readonly Ev[]): Map<string, Delta> {
  const byBase = new Map<string, Ev[]>();
  const out = new Map<string, Delta>();
  for (const e of all) {
    const bk = baseSessionKey(e);
    if (!bk.split) {
      const d = out.get(rowId(false, bk.base));
      if (d) addToDelta(d, e, e.id);
      else out.set(rowId(false, bk.base), newDelta(bk.base, bk, 1, e, e.id));
      continue;
    }
    const list = byBase.get(bk.base);
    if (list) list.push(e);
    else byBase.set(bk.base, [e]);
  }
  for (const [base, evs] of byBase) {
    const bk = baseSessionKey(evs[0] as Ev);
    const starts = startsOfPoints(
      evs.map((e) => ({ t: e.timestamp, role: runRoleOf(e) })),
      GAP,
    );
    for (const e of evs) {
      const key = keyAt(base, starts, e.timestamp);
      const d = out.get(rowId(true, key));
      if (d) addToDelta(d, e, e.id);
      else out.set(rowId(true, key), newDelta(key, bk, runIndexAt(starts, e.timestamp) + 1, e, e.id));
    }
  }
  return out;
}

const TYPES: Array<[string, Record<string, unknown>]> = [
  ['stream_initialized', {}],
  ['fragment_loading_started', { type: 'InitializationSegment' }],
  ['buffer_level_updated', { buffer_level: 0 }],
  ['buffer_level_updated', { buffer_level: 4 }],
  ['fragment_loading_completed', { type: 'MediaSegment' }],
];

const eventArb = fc.record({
  t: fc.integer({ min: 0, max: 120 }),
  type: fc.integer({ min: 0, max: TYPES.length - 1 }),
  who: fc.constantFrom('v1', 'v2', 'p1', 's1', 'v1#2'),
  video: fc.constantFrom('', 'unknown', 'movie', 'other'),
  protocol: fc.constantFrom('', 'cmcd', 'dash', 'hls'),
});

type RawEvent = { t: number; type: number; who: string; video: string; protocol: string };

function toEvents(raw: RawEvent[]): Ev[] {
  return raw.map((r, i) => {
    const [event_type, payload] = TYPES[r.type] as [string, Record<string, unknown>];
    const e: Ev = {
      id: `id${String(i).padStart(4, '0')}`,
      timestamp: 1000 + r.t / 2,
      event_type,
      protocol: r.protocol,
      video_id: r.who.startsWith('v') ? r.who : r.video,
      payload: { ...payload },
    };
    if (r.who === 'p1') e.payload.session_id = 'p1';
    if (r.who === 's1' || r.who === 'v1#2') e.session_id = r.who;
    return e;
  });
}

describe('session planner', () => {
  it('executing plans group by group gives the sessions of all events at once', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 80 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }),
        fc.integer(),
        (raw, cuts, seed) => {
          const all = toEvents(raw);
          // A random arrival order, then groups of random sizes.
          const shuffled = fc.sample(
            fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
            {
              seed,
              numRuns: 1,
            },
          )[0] as Ev[];
          const store = new MemoryStore();
          let k = 0;
          for (let c = 0; k < shuffled.length; c++) {
            const n = cuts[c % cuts.length] as number;
            store.insert(shuffled.slice(k, k + n));
            k += n;
          }
          const want = batch(all);
          const got = store.rows;
          assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
          for (const [key, w] of want) {
            const g = got.get(key) as Delta;
            const view = (d: Delta) => [
              d.count,
              d.firstTs,
              d.lastTs,
              d.videoId,
              d.knownProtocol ?? d.firstProtocol,
              d.runNo,
              d.source,
            ];
            assert.deepEqual(view(g), view(w), key);
          }
          for (const e of store.events) {
            const bk = baseSessionKey(e);
            if (!bk.split) assert.equal(e.key, bk.base);
          }
        },
      ),
      { numRuns: 600 },
    );
  });
});
