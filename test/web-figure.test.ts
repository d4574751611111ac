// Pure helpers behind the dashboard's figure downloads and time display (no browser, no
// server): round ticks, the CSV and SVG of a chart's plotted data, and times with their zone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Figure, figureCsv, figureSvg, fileStem, niceTicks } from '../src/web/client/figure.ts';
import * as f from '../src/web/client/format.ts';

const figure: Figure = {
  title: 'Video bitrate (Mbps)',
  xLabel: 'seconds since session start',
  yLabel: 'Mbps',
  series: [
    { label: 'run-1', color: '#1f77b4', stepped: true },
    { label: 'run "2", again', color: '#ff7f0e' },
  ],
  data: [
    [0, 5, 10, 20],
    [0.8, 1.6, null, 3.2],
    [null, 1, 2, 3],
  ],
  xRange: [0, 20],
  yRange: [0, 4],
  yTicks: [0, 0.8, 1.6, 3.2],
  bands: [
    { from: 6, to: 8, fill: 'rgba(214, 39, 40, 0.22)', label: 'stall' },
    { from: 12, to: 13, fill: 'rgba(214, 39, 40, 0.22)', label: 'stall' },
  ],
  marks: { at: [5, 20], color: '#7f3ca0', label: 'rendition switch' },
};

test('niceTicks: round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.3, 1.1, 4), [0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});

test('figureCsv: a header and one row per plotted x, blanks where a series has no point, quoted labels', () => {
  const lines = figureCsv(figure).trimEnd().split('\n');
  assert.deepEqual(lines, [
    'seconds since session start,run-1,"run ""2"", again"',
    '0,0.8,',
    '5,1.6,1',
    '10,,2',
    '20,3.2,3',
  ]);
});

test('figureSvg: a path per series (steps for stepped ones), bands, marks, ticks and a legend', () => {
  const svg = figureSvg(figure, 800, 420);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="800" height="420"/);
  const paths = [...svg.matchAll(/<path class="series" data-label="([^"]+)" d="([^"]+)"/g)];
  assert.deepEqual(
    paths.map((m) => m[1]),
    ['run-1', 'run &quot;2&quot;, again'],
  );
  // The stepped series holds its value across its gap at x=10 (no break): a step per later point.
  assert.equal((paths[0]![2]!.match(/H/g) ?? []).length, 2);
  assert.equal((paths[0]![2]!.match(/M/g) ?? []).length, 1);
  assert.equal((paths[1]![2]!.match(/L/g) ?? []).length, 2);
  assert.equal((svg.match(/<rect class="band"/g) ?? []).length, 2);
  assert.equal((svg.match(/<line class="mark"/g) ?? []).length, 2);
  for (const tick of ['0.8', '1.6', '3.2'])
    assert.match(svg, new RegExp(`>${tick.replace('.', '\\.')}</text>`));
  // Legend: both series, "stall" once, the switch mark.
  assert.equal((svg.match(/>stall</g) ?? []).length, 1);
  assert.match(svg, />rendition switch</);
  assert.match(svg, />Video bitrate \(Mbps\)</);
});

test('fileStem: a file name from a chart title', () => {
  assert.equal(fileStem('Video bitrate (Mbps)'), 'video-bitrate-mbps');
  assert.equal(fileStem('×'), 'chart');
});

test('dateTime: UTC or local with the offset, or without the zone for table cells', () => {
  const ts = Date.UTC(2026, 10, 25, 7, 34, 21) / 1000;
  assert.equal(f.dateTime(ts, 'utc'), '2026-11-25 07:34:21 UTC');
  assert.equal(f.dateTime(ts, 'utc', false), '2026-11-25 07:34:21');
  assert.match(f.dateTime(ts, 'local'), /^2026-11-2\d \d\d:\d\d:21 UTC[+-]\d\d:\d\d$/);
  assert.equal(f.dateTime(null), f.DASH);
  assert.equal(f.zoneLabel(new Date(ts * 1000), 'utc'), 'UTC');
});
