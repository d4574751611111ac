// Pure helpers behind the dashboard's paper output (no browser): legends laid out by text
// width, CDF CSV rows holding only the data (rounded), the run labels and the header clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cdfRows } from '../../src/web/client/cdf.ts';
import { figureSvg } from '../../src/web/client/figure.ts';
import * as f from '../../src/web/client/format.ts';
import { ENTRY_GAP, layoutLegend, SWATCH, textWidth } from '../../src/web/client/legend.ts';

const mono = (t: string) => t.length * 7;

test('layoutLegend: entries flow by their width and wrap; none overlaps, none passes the edge', () => {
  const entries = ['run 1 (12:00:00 UTC)', 'run 2 (12:01:40 UTC)', 'run 3 (12:03:20 UTC)', 'stall'].map(
    (label) => ({ label, color: '#000', kind: 'line' as const }),
  );
  const { placed, rows } = layoutLegend(entries, 400, mono);
  assert.equal(rows, 2);
  assert.deepEqual(
    placed.map((p) => [p.x, p.row]),
    [
      [0, 0],
      [SWATCH + 140 + ENTRY_GAP, 0],
      [0, 1],
      [SWATCH + 140 + ENTRY_GAP, 1],
    ],
  );
  for (const p of placed) assert.ok(p.x + SWATCH + p.width <= 400);
});

test('layoutLegend: a label wider than a row is cut with an ellipsis on its own row', () => {
  const { placed, rows } = layoutLegend(
    [
      { label: 'a', color: '#000', kind: 'line' },
      { label: 'x'.repeat(100), color: '#000', kind: 'box' },
    ],
    300,
    mono,
  );
  assert.equal(rows, 2);
  assert.ok(placed[1]?.text.endsWith('…'));
  assert.ok(SWATCH + (placed[1]?.width ?? 0) <= 300);
  assert.equal(layoutLegend([], 300, mono).rows, 0);
});

test('textWidth: at least DejaVu Sans widths (digits 0.637 em), wide for unknown characters', () => {
  assert.equal(textWidth('0000000000', 10), 64);
  assert.ok(textWidth('run 12 (12:03:04 UTC+01:00)') > 150);
  assert.ok(textWidth('実験', 12) >= 24);
});

test('figureSvg: a long legend adds rows below the plot and the figure grows, plot unchanged', () => {
  const series = Array.from({ length: 6 }, (_, i) => ({
    label: `abr-bola-starlink-terrestrial-run-set-${i} (n=20)`,
    color: '#123456',
  }));
  const svg = figureSvg({
    title: 'Startup time',
    xLabel: 'startup time (s)',
    yLabel: 'fraction of sessions',
    series,
    data: [[1, 2], ...series.map(() => [0.5, 1])],
    xRange: [0, 3],
    yRange: [0, 1],
  });
  const ys = [...svg.matchAll(/<text class="legend" x="([\d.]+)" y="([\d.]+)"/g)].map((m) => Number(m[2]));
  assert.equal(ys.length, 6);
  const rows = new Set(ys).size;
  assert.ok(rows >= 2, `wrapped into ${rows} rows`);
  assert.match(svg, new RegExp(`height="${420 + (rows - 1) * 18}"`));
  assert.match(svg, /<clipPath id="plot"><rect x="70" y="36" width="710" height="314"\/>/);
});

test('cdfRows: one row per data value (no padding), x rounded to the shown unit, fractions to 4 places', () => {
  assert.deepEqual(cdfRows([[1.5999999999999999, 0.3333333, 2], [2, 5], []], 3), [
    [0.333, 0.3333, 0, null],
    [1.6, 0.6667, 0, null],
    [2, 1, 0.5, null],
    [5, 1, 1, null],
  ]);
  // Equal once rounded: one row, the fraction at or below it.
  assert.deepEqual(cdfRows([[1.0004, 1.0001, 3]], 3), [
    [1, 0.6667],
    [3, 1],
  ]);
  assert.deepEqual(cdfRows([[2.4, 2.6]], 0), [
    [2, 0.5],
    [3, 1],
  ]);
});

test('runLabel and clock: "run N (HH:MM:SS zone)", 24-hour with the zone', () => {
  const ts = Date.UTC(2026, 11, 5, 14, 3, 7) / 1000;
  assert.equal(f.clock(ts, 'utc'), '14:03:07 UTC');
  assert.match(f.clock(ts, 'local'), /^\d\d:03:07 UTC[+-]\d\d:\d\d$/);
  assert.equal(f.runLabel(3, ts, 'utc'), 'run 3 (14:03:07 UTC)');
  assert.equal(f.runLabel(3, null, 'utc'), 'run 3');
});
