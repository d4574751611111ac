// The dashboard's effective playback rate (pure, no browser): 0 during stalls whatever the
// media element reports, the reported rate before and after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { effectiveRate } from '../../src/web/client/rate.ts';

test('effectiveRate: a stall is 0 from its start to its end, then the reported rate again', () => {
  const reported: Array<[number, number | null]> = [
    [0, 1],
    [5, 1],
    [10, 1.05],
    [15, 1],
  ];
  assert.deepEqual(effectiveRate(reported, [[6, 11]]), [
    [0, 1],
    [5, 1],
    [6, 0],
    [11, 1.05],
    [15, 1],
  ]);
});

test('effectiveRate: back-to-back stalls stay 0; no stalls or no reports change nothing', () => {
  const reported: Array<[number, number | null]> = [
    [0, 1],
    [20, 1],
  ];
  assert.deepEqual(
    effectiveRate(reported, [
      [2, 4],
      [4, 6],
    ]),
    [
      [0, 1],
      [2, 0],
      [4, 0],
      [6, 1],
      [20, 1],
    ],
  );
  assert.deepEqual(effectiveRate(reported, []), reported);
  assert.deepEqual(effectiveRate([], [[1, 2]]), []);
});
