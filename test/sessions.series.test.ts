// Streamed time series (src/sessions/series.ts) equal the in-memory ones (src/qoe/timeseries.ts)
// for random sessions of every dialect, every metric and any point budget, including the
// downsampling pass; the lean QoE accumulator used on store reads gives the same figures as the
// full one, with and without warm-up. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  computeSessionQoe,
  parseWarmup,
  SessionAccumulator,
  TIMESERIES_METRICS,
  timeseries,
} from '../src/qoe/index.ts';
import type { QoeEvent } from '../src/qoe/types.ts';
import { streamTimeseries } from '../src/sessions/series.ts';
import { sessionArb } from './helpers/sessions-gen.ts';

const sessions = fc.oneof(
  sessionArb('testbed', '', 'v.mpd'),
  sessionArb('reporter', 'r', 'v.mpd'),
  sessionArb('cmcd', 'c', 'v.mpd'),
);

test('streamed series equal the in-memory series', async () => {
  await fc.assert(
    fc.asyncProperty(
      sessions,
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 7 }),
      async (s, maxPoints, batch) => {
        // Events in (timestamp, arrival) order, as a store reads them.
        const events: QoeEvent[] = s.events
          .map((e, i) => ({ e, i }))
          .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i)
          .map(({ e }) => e);
        const source = async function* () {
          for (let i = 0; i < events.length; i += batch) yield events.slice(i, i + batch);
        };
        const ts = events.map((e) => e.timestamp);
        for (const metric of TIMESERIES_METRICS) {
          const want = timeseries(events, metric, maxPoints);
          const got = await streamTimeseries(source, metric, maxPoints, {
            first: Math.min(...ts),
            last: Math.max(...ts),
          });
          assert.deepEqual(got, want, `${metric} with ${maxPoints} points`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('the store-read accumulator keeps only what QoE reads, with the same figures', () => {
  fc.assert(
    fc.property(sessions, fc.constantFrom('0', '0.2', '3'), (s, w) => {
      const events: QoeEvent[] = s.events
        .map((e, i) => ({ e, i }))
        .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i)
        .map(({ e }) => e);
      const warmup = parseWarmup(w);
      const lean = new SessionAccumulator('x', { fromStore: true });
      for (const e of events) lean.add(e);
      assert.deepEqual(lean.result({ warmup }), computeSessionQoe(events, { warmup, sessionId: 'x' }));
    }),
    { numRuns: 500 },
  );
});
