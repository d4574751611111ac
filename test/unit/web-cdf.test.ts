// Pure helpers of the dashboard client (no browser, no server): the empirical CDF columns the
// distribution charts draw, the number formats the pages show, and the warm-up band.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cdfData } from '../../src/web/client/cdf.ts';
import * as f from '../../src/web/client/format.ts';

test('cdfData: one step per value, from 0 before the smallest to 1 after the largest', () => {
  const [xs, a, b] = cdfData([
    [3, 1, 2, 2],
    [2, 5],
  ]);
  assert.deepEqual(xs.slice(1, -1), [1, 2, 3, 5]);
  assert.ok(xs[0]! < 1 && xs.at(-1)! > 5);
  assert.deepEqual(a, [0, 0.25, 0.75, 1, 1, 1]);
  assert.deepEqual(b, [0, 0, 0.5, 0.5, 1, 1]);
});

test('cdfData: non-finite values are ignored, an empty group is null, all empty is empty', () => {
  const [xs, a, b] = cdfData([[Number.NaN, 4, Number.POSITIVE_INFINITY], []]);
  assert.equal(xs.length, 3);
  assert.deepEqual(a, [0, 1, 1]);
  assert.deepEqual(b, [null, null, null]);
  assert.deepEqual(cdfData([[], []]), [[], [], []]);
});

test('formats: units and rounding the pages use, a dash for missing values', () => {
  assert.equal(f.seconds(1.234), '1.23 s');
  assert.equal(f.percent(0.01234), '1.23 %');
  assert.equal(f.mbps(2_500_000), '2.50 Mbps');
  assert.equal(f.count(1234), '1,234');
  assert.equal(f.count(2.66), '2.7');
  assert.equal(f.span(754), '12 min 34 s');
  assert.equal(f.span(7300), '2 h 2 min');
  assert.equal(f.span(3599.6), '60 min 0 s');
  assert.equal(f.span(59.7), '60 s');
  for (const fn of [f.seconds, f.percent, f.mbps, f.count, f.span]) {
    assert.equal(fn(null), f.DASH);
    assert.equal(fn(Number.NaN), f.DASH);
  }
});
