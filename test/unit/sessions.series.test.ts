// Streamed time series (src/qoe/series-stream.ts) equal the in-memory ones (src/qoe/timeseries.ts)
// for random sessions of every dialect, every metric and any point budget, including the
// downsampling pass; QoE folded from a store stream (src/qoe/stream.ts) gives the same figures
// as QoE over the events in memory, with and without warm-up. Pure: starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { computeSessionQoe, parseWarmup, TIMESERIES_METRICS, timeseries } from '../../src/qoe/index.ts';
import { streamTimeseries } from '../../src/qoe/series-stream.ts';
import { foldSessions, streamSessionQoe } from '../../src/qoe/stream.ts';
import type { QoeEvent } from '../../src/qoe/types.ts';
import { sessionArb } from '../helpers/sessions-gen.ts';

const sessions = fc.oneof(
  sessionArb('testbed', '', 'v.mpd'),
  sessionArb('reporter', 'r', 'v.mpd'),
  sessionArb('cmcd', 'c', 'v.mpd'),
);

/** Events in (timestamp, arrival) order as a store reads them, in batches of `batch`. */
function asStored(input: readonly QoeEvent[], batch: number) {
  const events = input
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i)
    .map(({ e }) => e);
  const source = async function* () {
    for (let i = 0; i < events.length; i += batch) yield events.slice(i, i + batch);
  };
  return { events, source, ts: events.map((e) => e.timestamp) };
}

test('streamed series equal the in-memory series', async () => {
  await fc.assert(
    fc.asyncProperty(
      sessions,
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 7 }),
      async (s, maxPoints, batch) => {
        const { events, source, ts } = asStored(s.events, batch);
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

test('QoE folded from a store stream equals QoE over the events in memory', async () => {
  await fc.assert(
    fc.asyncProperty(
      sessions,
      fc.constantFrom('0', '0.2', '3'),
      fc.integer({ min: 1, max: 7 }),
      fc.boolean(),
      async (s, w, batch, spanRight) => {
        const { events, source, ts } = asStored(s.events, batch);
        // A summary's span may be out of date (events came in since): the fold must notice.
        const span = spanRight
          ? { first: Math.min(...ts), last: Math.max(...ts) }
          : { first: Math.min(...ts) + 1, last: Math.max(...ts) - 2 };
        const warmup = parseWarmup(w);
        const got = await streamSessionQoe(source, 'x', { warmup }, span);
        assert.deepEqual(got, computeSessionQoe(events, { warmup, sessionId: 'x' }));
      },
    ),
    { numRuns: 500 },
  );
});

test('the fold reads a store stream twice only when a guess about the future was wrong', async () => {
  const ev = (timestamp: number, event_type: string, payload: Record<string, unknown> = {}) => ({
    timestamp,
    event_type,
    payload,
  });
  const passes = async (events: QoeEvent[]) => {
    let reads = 0;
    const source = async function* () {
      reads++;
      yield events;
    };
    const ts = events.map((e) => e.timestamp);
    const qoe = await streamSessionQoe(source, 'x', {}, { first: Math.min(...ts), last: Math.max(...ts) });
    assert.deepEqual(qoe, computeSessionQoe(events, { sessionId: 'x' }));
    return { reads, qoe };
  };
  // Playback follows the error: the guess holds, one pass.
  const resumed = await passes([
    ev(0, 'play_requested'),
    ev(1, 'playback_started'),
    ev(5, 'playback_error', { error_code: 'x' }),
    ev(6, 'playback_started'),
    ev(20, 'playback_ended'),
  ]);
  assert.equal(resumed.reads, 1);
  assert.equal(resumed.qoe.fatal_error, false);
  // Nothing plays after the error: the error was fatal, found on a second pass.
  const died = await passes([ev(0, 'play_requested'), ev(1, 'playback_started'), ev(5, 'playback_error')]);
  assert.equal(died.reads, 2);
  assert.equal(died.qoe.fatal_error, true);
});

test('one read of an experiment folds each session as its own read would', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(sessions, { minLength: 1, maxLength: 5 }),
      fc.constantFrom('0', '0.2'),
      fc.integer({ min: 1, max: 9 }),
      async (list, w, batch) => {
        // Each session under its own stored key, all interleaved in store order.
        const keyed = list.flatMap((s, k) => s.events.map((e) => ({ ...e, session_key: `k${k}` })));
        const { events, source } = asStored(keyed, batch);
        const of = (k: number) => events.filter((e) => e.session_key === `k${k}`);
        const spans = list.map((_, k) => {
          const ts = of(k).map((e) => e.timestamp);
          return { sessionId: `k${k}`, span: { first: Math.min(...ts), last: Math.max(...ts) } };
        });
        const warmup = parseWarmup(w);
        const got = await foldSessions(source, spans, { warmup });
        for (const [k, s] of list.entries()) {
          const want = computeSessionQoe(of(k), { warmup, sessionId: `k${k}` });
          const qoe = got.get(`k${k}`);
          if (qoe) assert.deepEqual(qoe, want);
          // Left out only when a first-pass guess was wrong (a second read settles it).
          else
            assert.deepEqual(
              await streamSessionQoe(asStored(of(k), 3).source, `k${k}`, { warmup }, spans[k]!.span),
              want,
            );
          assert.ok(
            qoe || s.events.some((e) => /error|msd|cmcd/.test(JSON.stringify(e))),
            `k${k} settled in one read`,
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('without stored session keys, one read settles nothing (the caller reads per session)', async () => {
  const source = async function* () {
    yield [{ timestamp: 1, event_type: 'playback_started', payload: {} }];
  };
  const got = await foldSessions(source, [{ sessionId: 'a', span: { first: 1, last: 1 } }], {});
  assert.equal(got.size, 0);
});
