// Paper-ready dashboard output in headless Debian Chromium against a real server (buildApp on
// 127.0.0.1, SQLite in a temp dir, sessions posted through /api/submit): runs named "run 1..n"
// with their start (not UUIDs) in the table, the overlay and its downloads; legends of SVG and
// PNG downloads laid out without overlaps (text boxes measured in the rendered SVG, the PNG's
// layout measured on its canvas) for 3 runs and for CDFs of 3 experiments with long ids; CDF
// CSVs holding data points only, rounded; the effective playback rate (0 in stalls); the
// experiment table fitting 1440 px; the "Updated" time with its zone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { buildApp } from '../../src/app.ts';
import { CI } from '../helpers/env.ts';
import { sqliteFixture } from '../helpers/stores.ts';
import { type SessionPlan, sessionEvents, submitAll } from './dashboard-seed.ts';
import { type Browser, launchBrowser } from './harness/browser.ts';
import { CHROMIUM } from './harness/tools.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, 'artifacts/screenshots');

/** Keeps a downloaded figure for review next to the screenshots. */
function keep(name: string, body: Buffer | string): void {
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.writeFileSync(path.join(SHOTS, name), body);
}
const chromiumSkip = fs.existsSync(CHROMIUM) ? false : `skipped: install Debian's chromium at ${CHROMIUM}`;
if (CI && chromiumSkip) throw new Error(`CI=true but ${CHROMIUM} is missing`);

const RUNS = 'paper-runs';
/** Long experiment ids: legends of their CDFs are wider than a quarter of a figure. */
const LONG = [
  'abr-bola-starlink-terrestrial-20ms-a',
  'abr-bola-starlink-terrestrial-20ms-b',
  'abr-l2a-geo-600ms-c',
];
/** Session ids as players make them (UUIDs), posted in an order unlike their start order. */
const UUIDS = [
  'f3a1c2d4-9b8e-4f7a-8c6d-5e4f3a2b1c0d',
  '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
  '7c6b5a49-3827-4165-9e8d-7c6b5a493827',
];

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('paper-ready dashboard output in Chromium', { skip: chromiumSkip }, () => {
  const fixture = sqliteFixture();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-paper-'));
  const webDir = path.join(tmp, 'ui');
  let app: FastifyInstance;
  let base: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  const t0 = Math.floor(Date.now() / 1000) - 900;

  const plan = (
    experiment: string,
    session: string,
    start: number,
    startup: number,
    seed: number,
  ): SessionPlan => ({
    experiment,
    dialect: 'reporter',
    session,
    start,
    duration: 40,
    startup,
    qualities: [
      [0, 1],
      [12, 2],
    ],
    stalls: [[20, 6]],
    latency: 2,
    seed,
  });
  // Run order by start: UUIDS[1], UUIDS[2], UUIDS[0].
  const runPlans = [
    plan(RUNS, UUIDS[0] as string, t0 + 200, 1.234, 1),
    plan(RUNS, UUIDS[1] as string, t0, 0.9, 2),
    plan(RUNS, UUIDS[2] as string, t0 + 100, 1.6, 3),
  ];
  const comparePlans = LONG.flatMap((e, i) => [
    plan(e, `${e}-s1`, t0 + 300 + i * 100, 0.5 + i * 0.3, 10 + i),
    plan(e, `${e}-s2`, t0 + 350 + i * 100, 0.8 + i * 0.3, 20 + i),
  ]);

  async function open(hash: string, width = 1366): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${base}/${hash}`);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 15_000 });
    return { page, problems };
  }

  async function download(page: Page, selector: string): Promise<{ name: string; body: Buffer }> {
    const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
    return { name: d.suggestedFilename(), body: fs.readFileSync(await d.path()) };
  }

  /**
   * Renders an SVG in Chromium and returns the box of each legend entry (swatch and text) as
   * drawn, with the labels and the document's size.
   */
  async function svgLegend(svg: string, shot?: string) {
    const page = await context.newPage();
    try {
      await page.setContent(svg);
      if (shot) {
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.locator('svg').screenshot({ path: path.join(SHOTS, shot) });
      }
      return await page.evaluate(() => {
        const root = document.querySelector('svg') as SVGSVGElement;
        const texts = Array.from(document.querySelectorAll<SVGTextElement>('text.legend'));
        const swatches = Array.from(document.querySelectorAll<SVGGraphicsElement>('.legend-swatch'));
        return {
          width: Number(root.getAttribute('width')),
          height: Number(root.getAttribute('height')),
          entries: texts.map((t, i) => {
            const a = t.getBBox();
            const s = (swatches[i] as SVGGraphicsElement).getBBox();
            const x = Math.min(a.x, s.x);
            const y = Math.min(a.y, s.y);
            return {
              label: t.textContent ?? '',
              box: {
                x,
                y,
                width: Math.max(a.x + a.width, s.x + s.width) - x,
                height: Math.max(a.y + a.height, s.y + s.height) - y,
              },
            };
          }),
        };
      });
    } finally {
      await page.close();
    }
  }

  function assertNoOverlap(entries: Array<{ label: string; box: Box }>, width: number, what: string): void {
    for (const [i, a] of entries.entries()) {
      assert.ok(a.box.x >= 0 && a.box.x + a.box.width <= width, `${what}: "${a.label}" inside the figure`);
      for (const b of entries.slice(i + 1))
        assert.ok(
          !overlaps(a.box, b.box),
          `${what}: "${a.label}" ${JSON.stringify(a.box)} overlaps "${b.label}" ${JSON.stringify(b.box)}`,
        );
    }
  }

  /** The PNG legend's layout on its canvas (CSS px), as the last PNG download drew it. */
  async function pngLegend(page: Page, figure: string) {
    const raw = await page.getAttribute(figure, 'data-png-legend');
    const placed = JSON.parse(raw ?? '[]') as Array<{ x: number; row: number; width: number }>;
    const width = (await page.locator(`${figure} canvas`).boundingBox())?.width ?? 0;
    return { placed, width };
  }

  function assertPngLegend(
    l: { placed: Array<{ x: number; row: number; width: number }>; width: number },
    n: number,
  ) {
    assert.equal(l.placed.length, n, 'one legend entry per line');
    for (const [i, a] of l.placed.entries()) {
      assert.ok(
        a.x + a.width <= l.width,
        `PNG legend entry ${i} inside the canvas (${a.x + a.width} > ${l.width})`,
      );
      for (const b of l.placed.slice(i + 1))
        if (a.row === b.row)
          assert.ok(
            a.x + a.width <= b.x || b.x + b.width <= a.x,
            `PNG legend entries overlap: ${JSON.stringify([a, b])}`,
          );
    }
  }

  before(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'src/web/build.mjs'), webDir], { stdio: 'pipe' });
    app = await buildApp(fixture.config(), { webDir, logger: { level: 'warn' } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    assert.ok(addr && typeof addr === 'object');
    base = `http://127.0.0.1:${addr.port}`;
    // The element reports rate 1 all along, through the stall (as video.playbackRate does).
    const events = [...runPlans, ...comparePlans]
      .flatMap(sessionEvents)
      .map((e) =>
        e.event_type === 'periodic_metrics' ? { ...e, payload: { ...e.payload, playback_rate: 1 } } : e,
      );
    await submitAll(base, events);
    browser = await launchBrowser({ viewport: { width: 1366, height: 900 } });
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await fixture.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('runs are "run 1..n" by first event, ids reachable; the table fits 1440 px; Updated has a zone', async () => {
    const { page, problems } = await open(`#/experiment/${RUNS}`, 1440);
    const rows = await page.$$eval('table.qoe tbody tr', (trs) =>
      trs.map((tr) => {
        const a = tr.querySelector('td[data-key="run"] a') as HTMLAnchorElement;
        return { id: (tr as HTMLElement).dataset.row, text: a.textContent, title: a.title };
      }),
    );
    assert.deepEqual(rows, [
      { id: UUIDS[1], text: 'run 1', title: `session ${UUIDS[1]}` },
      { id: UUIDS[2], text: 'run 2', title: `session ${UUIDS[2]}` },
      { id: UUIDS[0], text: 'run 3', title: `session ${UUIDS[0]}` },
    ]);
    assert.equal(
      await page.locator('table.qoe td', { hasText: UUIDS[0] as string }).count(),
      0,
      'no UUID cells',
    );
    // F10: every column, Outcome last, in view at 1440 px (no sideways scroll box).
    const fit = await page.evaluate(() => {
      const box = document.querySelector('.scroll.sessions') as HTMLElement;
      const th = document.querySelector('table.qoe th[data-key="outcome"]') as HTMLElement;
      return {
        overflow: box.scrollWidth - box.clientWidth,
        outcomeRight: th.getBoundingClientRect().right,
        boxRight: box.getBoundingClientRect().right,
      };
    });
    assert.ok(fit.overflow <= 0, `sessions table scrolls sideways by ${fit.overflow} px`);
    assert.ok(fit.outcomeRight <= fit.boxRight, JSON.stringify(fit));
    assert.match((await page.textContent('#status')) ?? '', /^Updated \d\d:\d\d:\d\d UTC([+-]\d\d:\d\d)?$/);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('overlay of 3 runs: labelled legends, SVG and PNG legends without overlaps, effective rate', async () => {
    const { page, problems } = await open(`#/experiment/${RUNS}`);
    for (const id of UUIDS) await page.check(`input[aria-label="overlay ${id}"]`);
    await page.click('#overlay-btn');
    const fig = '#overlay figure.chart[data-metric="bitrate"]';
    await page.waitForSelector(`${fig}[data-series]`);
    const labels = ((await page.getAttribute(fig, 'data-series')) ?? '').split('|');
    assert.equal(labels.length, 3);
    for (const [i, l] of labels.entries())
      assert.match(l, new RegExp(`^run ${i + 1} \\(\\d\\d:\\d\\d:\\d\\d UTC([+-]\\d\\d:\\d\\d)?\\)$`));
    const legend = (await page.locator(`${fig} .u-legend`).textContent()) ?? '';
    for (const id of UUIDS) assert.ok(!legend.includes(id), 'no UUID in the overlay legend');

    const svg = (await download(page, `${fig} button[data-format="svg"]`)).body.toString('utf8');
    keep('paper-overlay-bitrate.svg', svg);
    const drawn = await svgLegend(svg, 'paper-overlay-bitrate-svg.png');
    assert.deepEqual(
      drawn.entries.slice(0, 3).map((e) => e.label),
      labels,
    );
    assertNoOverlap(drawn.entries, drawn.width, 'overlay SVG');
    keep('paper-overlay-bitrate.png', (await download(page, `${fig} button[data-format="png"]`)).body);
    assertPngLegend(await pngLegend(page, fig), 3);

    // The rate chart of the overlay: 0 inside each run's stall (the element said 1 there).
    const rateFig = '#overlay figure.chart[data-metric="playback_rate"]';
    const csv = (await download(page, `${rateFig} button[data-format="csv"]`)).body.toString('utf8');
    const [head, ...lines] = csv.trim().split('\n');
    assert.equal(head?.split(',').length, 4);
    const cells = lines.map((l) => l.split(','));
    /** Each run's rate holding at x s after its start (its last value at or before x). */
    const holding = (x: number) =>
      [1, 2, 3].map((j) => cells.filter((c) => Number(c[0]) <= x && c[j] !== '').at(-1)?.[j]);
    assert.deepEqual(holding(19.9), ['1', '1', '1']);
    assert.deepEqual(holding(23), ['0', '0', '0']);
    assert.deepEqual(holding(27), ['1', '1', '1']);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('session view: the playback rate chart is the effective rate, 0 through a stall', async () => {
    const sid = UUIDS[1] as string;
    const { page, problems } = await open(`#/session/${RUNS}/${sid}`);
    const api = (await (
      await fetch(`${base}/api/experiments/${RUNS}/timeseries?metric=playback_rate&session=${sid}`)
    ).json()) as { points: Array<[number, number]> };
    assert.ok(
      api.points.every((p) => p[1] === 1),
      'the element reported 1 all along',
    );
    const fig = 'figure.chart[data-title="Playback rate"]';
    assert.equal(
      await page.textContent(`${fig} figcaption .title`),
      'Playback rate, effective (× real time)',
    );
    const csv = (await download(page, `${fig} button[data-format="csv"]`)).body.toString('utf8');
    const rows = csv
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map(Number) as [number, number]);
    const start = runPlans[1]?.start as number;
    const at = (x: number) => rows.filter((r) => r[0] <= x).at(-1)?.[1];
    // The stall: 20 s to 26 s after the session's start (its first event).
    assert.equal(at(19.9), 1);
    assert.equal(at(22), 0);
    assert.equal(at(26.5), 1);
    assert.ok(
      rows.some((r) => r[1] === 0 && Math.abs(r[0] - 20.001) < 0.01),
      `stall start in ${csv}`,
    );
    assert.ok(start > 0);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('compare of 3 long-named experiments: CDF legends do not overlap; CDF CSV is data only, rounded', async () => {
    const { page, problems } = await open(`#/compare/${LONG.join(',')}`);
    const fig = 'figure.chart[data-title="Startup time"]';
    await page.waitForSelector(`${fig}[data-series]`);
    const svg = (await download(page, `${fig} button[data-format="svg"]`)).body.toString('utf8');
    keep('paper-compare-cdf.svg', svg);
    const drawn = await svgLegend(svg, 'paper-compare-cdf-svg.png');
    assert.deepEqual(
      drawn.entries.map((e) => e.label),
      LONG.map((e) => `${e} (n=2)`),
    );
    assertNoOverlap(drawn.entries, drawn.width, 'compare CDF SVG');
    keep('paper-compare-cdf.png', (await download(page, `${fig} button[data-format="png"]`)).body);
    assertPngLegend(await pngLegend(page, fig), 3);

    const q = await Promise.all(
      LONG.map(
        async (e) =>
          (await (await fetch(`${base}/api/experiments/${e}/qoe`)).json()) as {
            sessions: Array<{ startup_time_s: number; avg_bitrate_bps: number }>;
          },
      ),
    );
    const csv = (await download(page, `${fig} button[data-format="csv"]`)).body.toString('utf8');
    const [head, ...rows] = csv.trim().split('\n');
    assert.equal(head, ['startup time (s)', ...LONG.map((e) => `${e} (n=2)`)].join(','));
    const startups = [
      ...new Set(q.flatMap((r) => r.sessions.map((s) => Number(s.startup_time_s.toFixed(3))))),
    ].sort((a, b) => a - b);
    assert.deepEqual(
      rows.map((r) => Number(r.split(',')[0])),
      startups,
      'one row per data value, no padding points',
    );
    for (const r of rows) {
      const [x, ...ys] = r.split(',');
      assert.match(x ?? '', /^\d+(\.\d{1,3})?$/, `x rounded to 1 ms: ${r}`);
      for (const y of ys) assert.match(y, /^(0|1|0\.\d{1,4})$/, `fraction rounded: ${r}`);
    }
    assert.equal(rows.at(-1), `${startups.at(-1)},1,1,1`);
    const bitrate = (
      await download(page, 'figure.chart[data-title="Average bitrate"] button[data-format="csv"]')
    ).body.toString('utf8');
    for (const line of bitrate.trim().split('\n').slice(1))
      assert.match(line.split(',')[0] ?? '', /^\d+(\.\d{1,3})?$/, `Mbps to 3 decimals: ${line}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
