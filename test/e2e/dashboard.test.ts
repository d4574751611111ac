// The dashboard in headless Debian Chromium (playwright-core, /usr/bin/chromium) against a real
// server: builds the bundle with the real build script, starts buildApp on 127.0.0.1 (SQLite in
// a temp dir), seeds sessions with switches and stalls through POST /api/submit, and checks each
// view: no console errors, numbers equal the API's, charts drawn, compare, live updates.
// Screenshots go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { buildApp } from '../../src/app.ts';
import * as fmt from '../../src/web/client/format.ts';
import { CI } from '../helpers/env.ts';
import { sqliteFixture } from '../helpers/stores.ts';
import {
  denseExperiments,
  type SessionPlan,
  sessionEvents,
  submitAll,
  submitBatches,
  twoExperiments,
} from './dashboard-seed.ts';
import { type Browser, launchBrowser } from './harness/browser.ts';
import { CHROMIUM } from './harness/tools.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, 'artifacts/screenshots');

const chromiumSkip = fs.existsSync(CHROMIUM)
  ? false
  : `dashboard browser tests skipped: install Debian's chromium at ${CHROMIUM}`;
if (CI && chromiumSkip) throw new Error(`CI=true but ${CHROMIUM} is missing`);

const METRIC_FORMATS: Record<string, (v: number | null | undefined) => string> = fmt.METRIC_FORMAT;

/** The per-session figures the experiment and compare views draw as CDFs, in page order. */
const CDF_KEYS: Array<[string, string]> = [
  ['startup_time_s', 'Startup time'],
  ['stall_count', 'Stall count'],
  ['stall_time_s', 'Stall time'],
  ['rebuffering_ratio', 'Rebuffering ratio'],
  ['avg_bitrate_bps', 'Average bitrate'],
  ['switch_count', 'Bitrate switches'],
  ['latency_avg_s', 'Live latency (mean)'],
  ['latency_p95_s', 'Live latency (p95)'],
  ['dropped_frames', 'Dropped frames'],
];

/** Session chart series label -> API metric and line colour. */
const SESSION_SERIES: Array<[label: string, metric: string, rgb: [number, number, number]]> = [
  ['bitrate', 'bitrate', [31, 119, 180]],
  ['buffer', 'buffer', [44, 160, 44]],
  ['latency', 'latency', [148, 103, 189]],
  ['throughput', 'throughput', [255, 127, 14]],
  ['playback rate', 'playback_rate', [140, 86, 75]],
];

interface QoeReply {
  sessions: Array<Record<string, unknown> & { session_id: string; stalls: unknown[]; switches: unknown[] }>;
  aggregate: Record<string, { mean: number | null; median: number | null; p95: number | null; n: number }>;
}
interface ExperimentSummary {
  experiment_id: string;
  count: number;
  sessions: number;
  first_timestamp: number;
  last_timestamp: number;
}

describe('dashboard in Chromium', { skip: chromiumSkip }, () => {
  const fixture = sqliteFixture();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-dash-'));
  const webDir = path.join(tmp, 'ui');
  let app: FastifyInstance;
  let base: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  const now = Date.now() / 1000;
  const plans = twoExperiments(now);

  const getJson = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${base}${p}`);
    assert.equal(res.status, 200, `${p}: ${res.status}`);
    return (await res.json()) as T;
  };

  /** Opens a view and records console errors, page errors, failed and off-origin requests. */
  async function open(
    hash: string,
    opts: { width?: number; timezone?: string } = {},
  ): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage();
    if (opts.width) await page.setViewportSize({ width: opts.width, height: opts.width < 600 ? 844 : 900 });
    if (opts.timezone) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: opts.timezone });
    }
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) problems.push(`off-origin request: ${r.url()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.goto(`${base}/${hash}`);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 15_000 });
    return { page, problems };
  }

  async function shot(page: Page, name: string, viewportOnly = false): Promise<void> {
    fs.mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `${name}.png`);
    // The body, not the viewport: pages shorter than the window are not padded with blank space.
    if (viewportOnly) await page.screenshot({ path: file });
    else await page.locator('body').screenshot({ path: file });
  }

  /** Clicks a download button and returns the file the page offered, with its name. */
  async function download(page: Page, selector: string): Promise<{ name: string; body: Buffer }> {
    const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
    return { name: d.suggestedFilename(), body: fs.readFileSync(await d.path()) };
  }

  /** Pixels the page is wider than the window (0 when nothing overflows sideways). */
  const overflow = (page: Page) =>
    page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  /** Pixels of each colour (±tol per channel) on the canvas of the chart with this title. */
  async function pixels(
    page: Page,
    title: string,
    colors: Record<string, [number, number, number]>,
    tol = 28,
  ) {
    return page.evaluate(
      ({ title, colors, tol }) => {
        const fig = document.querySelector(`figure.chart[data-title="${title}"]`);
        const canvas = fig?.querySelector('canvas');
        if (!canvas) return null;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        const out: Record<string, number> = {};
        for (const [name, [r, g, b]] of Object.entries(colors)) {
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (
              Math.abs(data[i]! - r) <= tol &&
              Math.abs(data[i + 1]! - g) <= tol &&
              Math.abs(data[i + 2]! - b) <= tol &&
              data[i + 3]! > 200
            )
              n++;
          }
          out[name] = n;
        }
        return out;
      },
      { title, colors, tol },
    );
  }

  const chartInfo = (page: Page) =>
    page.$$eval('figure.chart', (figs) =>
      figs.map((f) => ({
        title: (f as HTMLElement).dataset.title,
        series: (f as HTMLElement).dataset.series ?? '',
        points: Number((f as HTMLElement).dataset.points ?? 0),
      })),
    );

  before(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'src/web/build.mjs'), webDir], { stdio: 'pipe' });
    app = await buildApp(fixture.config(), { webDir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    assert.ok(addr && typeof addr === 'object');
    base = `http://127.0.0.1:${addr.port}`;
    await submitAll(base, plans.flatMap(sessionEvents));
    browser = await launchBrowser({ viewport: { width: 1366, height: 860 } });
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await fixture.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('/ serves the built page under a same-origin CSP; assets come from /ui/', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length >= 2, html);
    for (const a of assets) {
      if (a.startsWith('data:') || a.startsWith('#')) continue; // inline empty favicon; in-page links
      assert.match(a, /^\/ui\//, `asset ${a} is served locally`);
      assert.equal((await fetch(`${base}${a}`)).status, 200, a);
    }
    const missing = await fetch(`${base}/ui/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
    assert.equal((await fetch(`${base}/ui/..%2Fpackage.json`)).status, 404);
  });

  test('without a built bundle, / says to run npm run build', async () => {
    const bare = await buildApp(fixture.config(), { webDir: path.join(tmp, 'not-built') });
    try {
      const res = await bare.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 503);
      const body = res.json();
      assert.equal(body.code, 'DASHBOARD_NOT_BUILT');
      assert.match(body.message, /npm run build/);
    } finally {
      await bare.close();
    }
  });

  test('experiments list shows the API counts and headline QoE, and filters', async () => {
    const { page, problems } = await open('#/');
    const { experiments } = await getJson<{ experiments: ExperimentSummary[] }>('/api/experiments');
    assert.deepEqual(experiments.map((e) => e.experiment_id).sort(), ['bola-starlink', 'l2a-starlink']);
    for (const e of experiments) {
      const row = page.locator(`tr[data-row="${e.experiment_id}"]`);
      assert.equal(await row.locator('td[data-key="count"]').getAttribute('data-value'), String(e.count));
      assert.equal(
        await row.locator('td[data-key="sessions"]').getAttribute('data-value'),
        String(e.sessions),
      );
      assert.equal(await row.locator('td[data-key="count"]').textContent(), fmt.count(e.count));
      const q = await getJson<QoeReply>(`/api/experiments/${e.experiment_id}/qoe`);
      const median = q.aggregate.startup_time_s?.median;
      await page.waitForFunction(
        (id) =>
          !document
            .querySelector(`tr[data-row="${id}"] td[data-key="startup_time_s"]`)
            ?.textContent?.includes('…'),
        e.experiment_id,
      );
      assert.equal(await row.locator('td[data-key="startup_time_s"]').textContent(), fmt.seconds(median));
      assert.equal(
        await row.locator('td[data-key="rebuffering_ratio"]').textContent(),
        fmt.percent(q.aggregate.rebuffering_ratio?.mean),
      );
      assert.equal(
        await row.locator('td[data-key="avg_bitrate_bps"]').textContent(),
        fmt.mbps(q.aggregate.avg_bitrate_bps?.mean),
      );
    }
    await shot(page, 'experiments');
    await page.fill('#search', 'l2a');
    assert.equal(await page.locator('table.experiments tbody tr').count(), 1);
    assert.equal(await page.locator('#shown-count').textContent(), '1 of 2 experiments');
    await page.fill('#search', '');
    assert.equal(await page.locator('table.experiments tbody tr').count(), 2);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('experiment view: per-session QoE equals the API, aggregate rows, sorting, CDFs drawn', async () => {
    const id = 'bola-starlink';
    const { page, problems } = await open(`#/experiment/${id}`);
    const q = await getJson<QoeReply>(`/api/experiments/${id}/qoe`);
    assert.equal(q.sessions.length, 3);
    assert.equal(await page.locator('table.qoe tbody tr').count(), 3);
    for (const s of q.sessions) {
      const row = page.locator(`table.qoe tr[data-row="${s.session_id}"]`);
      for (const [key, format] of Object.entries(METRIC_FORMATS)) {
        const v = s[key] as number | null;
        const cell = row.locator(`td[data-key="${key}"]`);
        assert.equal(
          await cell.getAttribute('data-value'),
          v == null ? '' : String(v),
          `${s.session_id} ${key}`,
        );
        assert.equal(await cell.textContent(), format(v), `${s.session_id} ${key} text`);
      }
    }
    for (const stat of ['mean', 'median', 'p95'] as const) {
      const row = page.locator(`tfoot tr[data-stat="${stat}"]`);
      for (const key of ['startup_time_s', 'rebuffering_ratio', 'avg_bitrate_bps', 'latency_avg_s']) {
        const v = q.aggregate[key]?.[stat] ?? null;
        assert.equal(
          await row.locator(`td[data-key="${key}"]`).textContent(),
          METRIC_FORMATS[key]!(v),
          `${stat} ${key}`,
        );
      }
    }
    const share = (k: string) => `${Math.round((q.aggregate[k]?.mean ?? 0) * 100)} %`;
    assert.equal(
      await page.textContent('tfoot tr[data-stat="mean"] td[data-key="outcome"]'),
      `${share('fatal_error')} failed, ${share('exit_before_start')} no start`,
    );
    // Sorting by startup time puts the sessions in the API's startup order (then reversed).
    const byStartup = [...q.sessions]
      .sort((a, b) => (a.startup_time_s as number) - (b.startup_time_s as number))
      .map((s) => s.session_id);
    await page.click('th[data-key="startup_time_s"]');
    assert.deepEqual(
      await page.$$eval('table.qoe tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.row)),
      byStartup,
    );
    await page.click('th[data-key="startup_time_s"]');
    assert.deepEqual(
      await page.$$eval('table.qoe tbody tr', (rs) => rs.map((r) => (r as HTMLElement).dataset.row)),
      [...byStartup].reverse(),
    );
    const charts = await chartInfo(page);
    assert.deepEqual(
      charts.map((c) => c.title),
      CDF_KEYS.map(([, title]) => title),
    );
    for (const [i, c] of charts.entries()) {
      // One CDF per per-session figure; n counts the sessions where the API has that figure.
      const key = CDF_KEYS[i]![0];
      const n = q.sessions.filter((x) => typeof x[key] === 'number').length;
      assert.equal(c.series, `bola-starlink (n=${n})`, c.title);
      assert.ok(c.points > 0, `${c.title} has points`);
      const px = await pixels(page, c.title!, { line: [31, 119, 180] });
      assert.ok(px && (px?.line ?? 0) > 30, `${c.title}: series line drawn (${JSON.stringify(px)})`);
    }
    await shot(page, 'experiment');
    // Copyable API links are absolute URLs that answer; the CSV button downloads CSV.
    await page.click('details.api-links summary');
    const qoeUrl = await page.inputValue('details.api-links input[aria-label^="QoE"]');
    assert.equal(qoeUrl, `${base}/api/experiments/${id}/qoe`);
    assert.equal((await fetch(qoeUrl)).status, 200);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.click('details.api-links li:has(input[aria-label^="QoE"]) button.copy');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), qoeUrl);
    const csvHref = await page.getAttribute('a[data-format="csv"]', 'href');
    const csv = await fetch(`${base}${csvHref}`);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    assert.equal(lines.length, 1 + (await getJson<{ count: number }>(`/api/metrics/${id}`)).count);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('comparing two experiments: picked from the list, medians equal the API, one line each', async () => {
    const { page, problems } = await open('#/');
    await page.check('input[aria-label="select bola-starlink"]');
    assert.equal(await page.isDisabled('#compare'), true);
    await page.check('input[aria-label="select l2a-starlink"]');
    assert.equal(await page.textContent('#compare'), 'Compare 2 selected');
    await shot(page, 'experiments-selected');
    await page.click('#compare');
    await page.waitForFunction(() => location.hash.startsWith('#/compare/'));
    await page.waitForFunction(() => document.querySelectorAll('table.compare td[data-key]').length > 0);
    for (const id of ['bola-starlink', 'l2a-starlink']) {
      const q = await getJson<QoeReply>(`/api/experiments/${id}/qoe`);
      for (const key of Object.keys(METRIC_FORMATS)) {
        const cell = page.locator(`table.compare td[data-experiment="${id}"][data-key="${key}"] .median`);
        assert.equal(
          await cell.textContent(),
          METRIC_FORMATS[key]!(q.aggregate[key]?.median ?? null),
          `${id} ${key}`,
        );
      }
    }
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('figure.chart')).every((f) =>
        (f as HTMLElement).dataset.series?.includes('|'),
      ),
    );
    for (const c of await chartInfo(page)) {
      const labels = c.series.split('|');
      assert.equal(labels.length, 2, c.title);
      assert.match(labels[0]!, /^bola-starlink/);
      assert.match(labels[1]!, /^l2a-starlink/);
      const px = await pixels(page, c.title!, { first: [31, 119, 180], second: [255, 127, 14] });
      assert.ok(
        (px?.first ?? 0) > 20 && (px?.second ?? 0) > 20,
        `${c.title}: both lines drawn (${JSON.stringify(px)})`,
      );
    }
    await shot(page, 'compare');
    const table = (await download(page, '#compare-csv')).body.toString('utf8').trim().split('\n');
    assert.equal(table[0], 'experiment_id,metric,n,mean,median,p95');
    const bola = await getJson<QoeReply>('/api/experiments/bola-starlink/qoe');
    const a = bola.aggregate.startup_time_s!;
    assert.ok(
      table.includes(`bola-starlink,startup_time_s,${a.n},${a.mean},${a.median},${a.p95}`),
      table.join('\n'),
    );
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('session view: time series with stalls and switches, QoE, warm-up, filterable event log', async () => {
    const id = 'bola-starlink';
    const sid = 'bola-3';
    const { page, problems } = await open(`#/session/${id}/${sid}`);
    const q = await getJson<QoeReply>(`/api/experiments/${id}/qoe?session=${sid}`);
    const s = q.sessions.find((x) => x.session_id === sid)!;
    assert.ok(s.stalls.length >= 1 && s.switches.length >= 1, 'seeded session has stalls and switches');
    for (const key of [
      'startup_time_s',
      'stall_count',
      'rebuffering_ratio',
      'avg_bitrate_bps',
      'switch_count',
    ]) {
      assert.equal(
        await page.locator(`#session-qoe [data-stat="${key}"] .v`).textContent(),
        METRIC_FORMATS[key]!(s[key] as number | null),
        key,
      );
    }
    const charts = await chartInfo(page);
    assert.deepEqual(
      charts.map((c) => c.series),
      SESSION_SERIES.map(([label]) => (label === 'throughput' ? 'throughput|video bitrate' : label)),
    );
    const bitrateTs = await getJson<{ points: Array<[number, number]> }>(
      `/api/experiments/${id}/timeseries?metric=bitrate&session=${sid}&max_points=1000`,
    );
    for (const [i, c] of charts.entries()) {
      const [, metric, color] = SESSION_SERIES[i]!;
      const ts = await getJson<{ points: Array<[number, number]> }>(
        `/api/experiments/${id}/timeseries?metric=${metric}&session=${sid}&max_points=1000`,
      );
      // Throughput is drawn against the played bitrate: one x column for both series' points.
      const want =
        metric === 'throughput'
          ? new Set([...ts.points, ...bitrateTs.points].map((p) => p[0])).size
          : ts.points.length;
      // The rate chart is the effective rate: also a 0 at each stall's start and the rate at its end.
      if (metric === 'playback_rate') assert.ok(c.points >= want, `${c.series}: every API point plotted`);
      else assert.equal(c.points, want, `${c.series}: every API point plotted`);
      assert.ok(c.points > 0, `${c.series} has points`);
      const px = await pixels(page, c.title!, {
        line: color,
        stall: [214, 39, 40],
        switchLine: [140, 88, 172],
      });
      assert.ok(px, c.title);
      assert.ok((px?.line ?? 0) > 20, `${c.title}: line drawn ${JSON.stringify(px)}`);
      assert.ok((px?.stall ?? 0) > 100, `${c.title}: stall bar drawn ${JSON.stringify(px)}`);
      assert.ok((px?.switchLine ?? 0) > 20, `${c.title}: switches marked ${JSON.stringify(px)}`);
    }
    // Dragging across one chart zooms all four to the same range; double-click resets them.
    const ranges = () => page.$$eval('figure.chart', (fs) => fs.map((f) => (f as HTMLElement).dataset.x));
    const full = await ranges();
    assert.equal(new Set(full).size, 1, `one shared time axis: ${full}`);
    const over = await page.locator('figure.chart[data-title="Buffer level"] .u-over').boundingBox();
    assert.ok(over);
    assert.ok(over.height >= 220, `plot area tall enough to read: ${over.height} px`);
    await page.mouse.move(over.x + over.width * 0.3, over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    const zoomed = await ranges();
    assert.equal(new Set(zoomed).size, 1, `zoomed together: ${zoomed}`);
    assert.notEqual(zoomed[0], full[0]);
    await page.dblclick('figure.chart[data-title="Throughput"] .u-over');
    assert.deepEqual(await ranges(), full);
    // Event log: first page equals the API's, then filtered by type.
    const all = await getJson<{ count: number; metrics: Array<{ event_type: string }> }>(
      `/api/metrics/${id}?session_id=${sid}&limit=200`,
    );
    assert.equal(await page.locator('#event-log tbody tr').count(), all.metrics.length);
    await page.selectOption('#event-type', 'rebuffer_event');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#event-log tbody tr')).every(
        (r) => (r as HTMLElement).dataset.type === 'rebuffer_event',
      ),
    );
    const stalls = await getJson<{ metrics: unknown[] }>(
      `/api/metrics/${id}?session_id=${sid}&event_type=rebuffer_event&limit=200`,
    );
    assert.equal(await page.locator('#event-log tbody tr').count(), stalls.metrics.length);
    assert.equal(stalls.metrics.length, 2);
    assert.match((await page.locator('a[data-format="csv"]').getAttribute('href')) ?? '', /format=csv/);
    // Warm-up trim goes to the QoE endpoint; the page shows what it answers.
    await page.fill('#warmup', '0.5');
    await page.press('#warmup', 'Enter');
    const trimmed = await getJson<QoeReply>(`/api/experiments/${id}/qoe?session=${sid}&warmup=0.5`);
    const ts = trimmed.sessions.find((x) => x.session_id === sid)!;
    await page.waitForFunction(
      () => location.hash.includes('warmup=0.5') && location.hash.includes('type=rebuffer_event'),
    );
    await page.waitForFunction(
      (want) => document.querySelector('#session-qoe [data-stat="stall_count"] .v')?.textContent === want,
      METRIC_FORMATS.stall_count!(ts.stall_count as number | null),
    );
    await shot(page, 'session');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('session view: playback rate chart, and each chart downloads as SVG, PNG and CSV of its points', async () => {
    const id = 'bola-starlink';
    const sid = 'bola-3';
    const { page, problems } = await open(`#/session/${id}/${sid}`);
    const rate = await getJson<{ unit: string; points: Array<[number, number]> }>(
      `/api/experiments/${id}/timeseries?metric=playback_rate&session=${sid}&max_points=1000`,
    );
    assert.equal(rate.unit, 'x');
    assert.ok(
      rate.points.some((p) => p[1] === 0) && rate.points.some((p) => p[1] === 1),
      `halted in a stall, 1 otherwise: ${JSON.stringify(rate.points)}`,
    );
    const rateFig = 'figure.chart[data-title="Playback rate"]';
    // The effective rate: the reported points, plus 0 at each stall's start and the rate at its end.
    assert.ok(Number(await page.getAttribute(rateFig, 'data-points')) >= rate.points.length);
    const ratePx = await pixels(page, 'Playback rate', { line: [140, 86, 75] });
    assert.ok((ratePx?.line ?? 0) > 20, `playback rate line drawn ${JSON.stringify(ratePx)}`);

    const fig = 'figure.chart[data-title="Video bitrate"]';
    const points = Number(await page.getAttribute(fig, 'data-points'));
    const bitrate = await getJson<{ points: Array<[number, number]> }>(
      `/api/experiments/${id}/timeseries?metric=bitrate&session=${sid}&max_points=1000`,
    );
    const { sessions } = await getJson<{ sessions: Array<{ session_id: string; first_timestamp: number }> }>(
      `/api/experiments/${id}/sessions`,
    );
    const t0 = sessions.find((x) => x.session_id === sid)!.first_timestamp;
    // CSV: a header, then one row per plotted point, in display units (s since start, Mbps).
    const csv = await download(page, `${fig} button[data-format="csv"]`);
    assert.equal(csv.name, 'video-bitrate-mbps.csv');
    const lines = csv.body.toString('utf8').trim().split('\n');
    assert.equal(lines[0], 'seconds since session start,bitrate (Mbps)');
    assert.equal(lines.length - 1, points);
    assert.equal(points, bitrate.points.length);
    bitrate.points.forEach(([t, v], i) => {
      const [x, y] = lines[i + 1]!.split(',').map(Number);
      assert.ok(Math.abs(x! - (t - t0)) < 1e-6, `row ${i} x ${x} vs ${t - t0}`);
      assert.ok(Math.abs(y! - v / 1e6) < 1e-9, `row ${i} y ${y} vs ${v / 1e6}`);
    });
    // SVG: the same points as a staircase (one horizontal run per point after the first),
    // a band per stall and the axis labels.
    const svg = (await download(page, `${fig} button[data-format="svg"]`)).body.toString('utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const d = /<path class="series" data-label="bitrate" d="([^"]+)"/.exec(svg)?.[1] ?? '';
    assert.equal((d.match(/H/g) ?? []).length, points - 1, 'one step per point');
    const q = await getJson<QoeReply>(`/api/experiments/${id}/qoe?session=${sid}`);
    const stalls = q.sessions.find((x) => x.session_id === sid)!.stalls.length;
    assert.equal((svg.match(/<rect class="band"/g) ?? []).length, stalls);
    assert.match(svg, />seconds since session start</);
    assert.match(svg, />Mbps</);
    // PNG: a real PNG at least as wide as the chart on screen.
    const png = (await download(page, `${fig} button[data-format="png"]`)).body;
    assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
    const box = await page.locator(`${fig} canvas`).boundingBox();
    assert.ok(png.readUInt32BE(16) >= Math.floor(box!.width), `PNG width ${png.readUInt32BE(16)}`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("experiment view: picked sessions overlaid on one axis from each session's start, one colour each", async () => {
    const id = 'bola-starlink';
    const { page, problems } = await open(`#/experiment/${id}`);
    const { sessions } = await getJson<{ sessions: Array<{ session_id: string; first_timestamp: number }> }>(
      `/api/experiments/${id}/sessions`,
    );
    assert.equal(await page.isDisabled('#overlay-btn'), true);
    // Runs of one scenario: every session that played the same video, in one pick.
    const q0 = await getJson<QoeReply>(`/api/experiments/${id}/qoe`);
    const video = q0.sessions[0]!.video_id as string;
    const runs = q0.sessions.filter((x) => x.video_id === video);
    await page.selectOption('#pick-runs', video);
    assert.equal(await page.textContent('#overlay-btn'), `Overlay ${runs.length} selected`);
    assert.equal(await page.locator('table.qoe input.pick:checked').count(), runs.length);
    await page.click('#pick-clear');
    assert.equal(await page.locator('table.qoe input.pick:checked').count(), 0);
    assert.equal(await page.isDisabled('#overlay-btn'), true);
    for (const s of sessions) await page.check(`input[aria-label="overlay ${s.session_id}"]`);
    assert.equal(await page.textContent('#overlay-btn'), `Overlay ${sessions.length} selected`);
    await page.click('#overlay-btn');
    const fig = '#overlay figure.chart[data-metric="bitrate"]';
    await page.waitForSelector(`${fig}[data-series]`);
    // Named "run N (start)" in run order (by first event), not by id.
    const runs0 = [...q0.sessions].sort((a, b) => (a.run as number) - (b.run as number));
    const runLabels = runs0.map((s) => fmt.runLabel(s.run as number, s.started_unix_s as number));
    assert.equal(await page.getAttribute(fig, 'data-series'), runLabels.join('|'));
    const xs = new Set<number>();
    for (const s of sessions) {
      const ts = await getJson<{ points: Array<[number, number]> }>(
        `/api/experiments/${id}/timeseries?metric=bitrate&session=${encodeURIComponent(s.session_id)}&max_points=1000`,
      );
      for (const [t] of ts.points) xs.add(Number((t - s.first_timestamp).toFixed(3)));
    }
    assert.equal(Number(await page.getAttribute(fig, 'data-points')), xs.size);
    assert.ok(Math.max(...xs) < 120, 'x is time since each session start, not since the first session');
    const px = await pixels(page, 'Video bitrate (Mbps)', {
      first: [31, 119, 180],
      second: [255, 127, 14],
      third: [44, 160, 44],
    });
    for (const [k, n] of Object.entries(px ?? {}))
      assert.ok(n > 20, `${k} session drawn: ${JSON.stringify(px)}`);
    const legend = await page.locator(`${fig} .u-legend`).textContent();
    for (const l of runLabels) assert.ok(legend?.includes(l), `legend names ${l}`);
    assert.equal(
      await page.locator('#overlay figure.chart').count(),
      5,
      'bitrate, buffer, latency, throughput, playback rate',
    );
    await shot(page, 'experiment-overlay');
    // The QoE table as CSV: one row per session, the API's numbers in API units.
    const q = await getJson<QoeReply>(`/api/experiments/${id}/qoe`);
    const csv = await download(page, '#qoe-csv');
    assert.equal(csv.name, `${id}-qoe.csv`);
    const [head, ...rows] = csv.body.toString('utf8').trim().split('\n');
    const cols = head!.split(',');
    assert.equal(rows.length, q.sessions.length);
    for (const s of q.sessions) {
      const cells = rows.find((r) => r.split(',')[0] === s.session_id)!.split(',');
      assert.equal(cells[cols.indexOf('run')], String(s.run));
      for (const key of ['startup_time_s', 'rebuffering_ratio', 'avg_bitrate_bps', 'stall_count'])
        assert.equal(
          cells[cols.indexOf(key)],
          s[key] == null ? '' : String(s[key]),
          `${s.session_id} ${key}`,
        );
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('times carry their zone; the UTC / local switch changes them and is remembered', async () => {
    const id = 'bola-starlink';
    const { page, problems } = await open(`#/experiment/${id}`, { timezone: 'Asia/Kolkata' });
    const { sessions } = await getJson<{ sessions: Array<{ session_id: string; first_timestamp: number }> }>(
      `/api/experiments/${id}/sessions`,
    );
    const first = Math.min(...sessions.map((s) => s.first_timestamp));
    const kolkata = fmt.dateTime(first + 5.5 * 3600, 'utc').replace(/UTC$/, 'UTC+05:30');
    const shown = () => page.textContent('[data-stat="first"] .v');
    assert.equal(await shown(), kolkata);
    assert.equal(await page.textContent('#zone'), 'Times: local');
    await page.click('#zone');
    await page.waitForFunction(
      (want) => document.querySelector('[data-stat="first"] .v')?.textContent === want,
      fmt.dateTime(first, 'utc'),
    );
    const s = sessions[0]!;
    assert.equal(
      await page.textContent(`table.qoe tr[data-row="${s.session_id}"] td[data-key="started"]`),
      fmt.dateTime(s.first_timestamp, 'utc', false),
      'the sessions table has a start time column',
    );
    assert.equal(await page.textContent('table.qoe th[data-key="started"]'), 'Started (UTC)');
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready !== undefined);
    await page.waitForSelector('[data-stat="first"]');
    assert.equal(await shown(), fmt.dateTime(first, 'utc'), 'remembered after a reload');
    await page.click('#zone');
    await page.waitForFunction(
      (want) => document.querySelector('[data-stat="first"] .v')?.textContent === want,
      kolkata,
    );
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('an unknown experiment, session or compare id gets a not-found page, not an empty view', async () => {
    const cases: Array<[string, string]> = [
      ['#/experiment/nope', 'No experiment "nope"'],
      ['#/session/bola-starlink/nope', 'No session "nope" in experiment "bola-starlink"'],
      ['#/compare/bola-starlink,nope', 'No experiment "nope"'],
    ];
    for (const [hash, text] of cases) {
      const { page, problems } = await open(hash);
      assert.equal(await page.textContent('#not-found h1'), text, hash);
      assert.equal(await page.locator('main table, main figure, main h2').count(), 0, `${hash}: no skeleton`);
      assert.equal(await page.isVisible('#not-found a[href="#/"]'), true);
      assert.equal(await page.getAttribute('main', 'aria-busy'), null, 'not left loading');
      assert.deepEqual(problems, []);
      await page.close();
    }
  });

  test('phone (390 px): no view is wider than the screen; compare as cards; a readable event log', async () => {
    const views: Array<[string, string]> = [
      ['experiments', '#/'],
      ['experiment', '#/experiment/bola-starlink'],
      ['compare', '#/compare/bola-starlink,l2a-starlink'],
      ['session', '#/session/bola-starlink/bola-3'],
    ];
    for (const [name, hash] of views) {
      const { page, problems } = await open(hash, { width: 390 });
      await page.waitForFunction(() => !document.querySelector('main[aria-busy]'));
      assert.equal(await overflow(page), 0, `${name}: nothing overflows sideways`);
      if (name === 'compare') {
        await page.waitForSelector('#compare-cards .card');
        assert.equal(await page.isVisible('table.compare'), false);
        assert.equal(await page.locator('#compare-cards .card').count(), 2);
        const q = await getJson<QoeReply>('/api/experiments/bola-starlink/qoe');
        assert.equal(
          await page.textContent(
            '#compare-cards .card[data-experiment="bola-starlink"] dd[data-key="startup_time_s"]',
          ),
          fmt.seconds(q.aggregate.startup_time_s?.median),
        );
      }
      if (name === 'session') {
        await page.waitForSelector('#event-log tbody tr');
        const row = await page.locator('#event-log tbody tr').first().boundingBox();
        assert.ok(row && row.x >= 0 && row.x + row.width <= 390, `log row fits: ${JSON.stringify(row)}`);
      }
      const crumbs = await page.$eval('#crumbs', (el) => el.scrollWidth <= el.clientWidth);
      assert.ok(crumbs, `${name}: breadcrumb not clipped`);
      await shot(page, `phone-${name}`);
      assert.deepEqual(problems, []);
      await page.close();
    }
  });

  test('a testbed session (no session_id, keyed by its video_id) opens from the experiment table', async () => {
    const id = 'l2a-starlink';
    const { page, problems } = await open(`#/experiment/${id}`);
    const sessions = await getJson<{
      sessions: Array<{ session_id: string; source: string; count: number }>;
    }>(`/api/experiments/${id}/sessions`);
    const testbed = sessions.sessions.find((s) => s.source === 'video_id')!;
    assert.ok(testbed, 'seeded a testbed-style session');
    await page.click(`table.qoe tr[data-row="${testbed.session_id}"] a`);
    await page.waitForFunction(() => document.querySelectorAll('#event-log tbody tr').length > 0);
    assert.equal(await page.locator('#event-log tbody tr').count(), Math.min(200, testbed.count));
    const charts = await chartInfo(page);
    const points = Object.fromEntries(charts.map((c) => [c.series, c.points]));
    assert.ok((points.bitrate ?? 0) > 0 && (points.buffer ?? 0) > 0, JSON.stringify(points));
    assert.equal(points.latency, 0, 'the testbed client sends no live latency');
    assert.equal(await page.isVisible('figure.chart[data-title="Live latency"] .chart-note'), true);
    // An empty chart is one line, not a blank plot.
    const empty = await page.locator('figure.chart[data-title="Live latency"]').boundingBox();
    assert.ok(empty && empty.height < 60, `empty chart collapsed: ${JSON.stringify(empty)}`);
    await shot(page, 'session-testbed');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a live experiment updates by itself when events are posted', async () => {
    const id = 'live-run';
    const t = Date.now() / 1000;
    const plan = (session: string, start: number, seed: number): SessionPlan => ({
      experiment: id,
      dialect: 'reporter',
      session,
      start,
      duration: 20,
      startup: 0.5 + seed * 0.3,
      qualities: [
        [0, 1],
        [4 + seed, seed % 2 ? 3 : 2],
      ],
      stalls: [[12, seed * 0.8]],
      latency: 1.5 + seed * 0.4,
      seed,
    });
    // The experiments list picks up a new experiment by itself, with its headline QoE.
    const list = await open('#/');
    assert.equal(await list.page.locator(`tr[data-row="${id}"]`).count(), 0);
    await submitAll(base, sessionEvents(plan('live-1', t - 25, 1)));
    await list.page.waitForSelector(
      `tr[data-row="${id}"] td[data-key="startup_time_s"]:not(:has-text("…"))`,
      {
        timeout: 20_000,
      },
    );
    const listed = (await getJson<{ experiments: ExperimentSummary[] }>('/api/experiments')).experiments.find(
      (x) => x.experiment_id === id,
    )!;
    // Submission may still have been under way at the first poll: the count catches up by itself.
    await list.page.waitForFunction(
      ([row, want]) =>
        document.querySelector(`tr[data-row="${row}"] td[data-key="count"]`)?.getAttribute('data-value') ===
        want,
      [id, String(listed.count)],
      { timeout: 20_000 },
    );
    assert.equal(await list.page.isVisible(`tr[data-row="${id}"] .live-badge`), true);
    assert.deepEqual(list.problems, []);
    await list.page.close();

    const { page, problems } = await open(`#/experiment/${id}`);
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    assert.equal(await page.locator('table.qoe tbody tr').count(), 1);
    assert.equal(await page.isVisible('#live'), true, 'live badge shown for recent events');
    await submitAll(base, sessionEvents(plan('live-2', t - 21, 2)));
    await page.waitForSelector('table.qoe tr[data-row="live-2"]', { timeout: 20_000 });
    const e = (await getJson<{ experiments: ExperimentSummary[] }>('/api/experiments')).experiments.find(
      (x) => x.experiment_id === id,
    )!;
    await page.waitForFunction(
      (want) => document.querySelector('[data-stat="events"] .v')?.textContent === want,
      fmt.count(e.count),
      { timeout: 10_000 },
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker?: number }).marker),
      42,
      'no reload',
    );
    await shot(page, 'live-experiment');
    // The session view of a running session grows its event log by itself too.
    const sv = await open(`#/session/${id}/live-2`);
    const before = await sv.page.locator('#event-log tbody tr').count();
    await submitAll(base, [
      {
        experiment_id: id,
        session_id: 'live-2',
        timestamp: Date.now() / 1000,
        event_type: 'buffer_level_updated',
        protocol: 'dash',
        payload: { buffer_level: 4.2, media_type: 'video' },
      },
    ]);
    await sv.page.waitForFunction(
      (n) => document.querySelectorAll('#event-log tbody tr').length === n + 1,
      before,
      {
        timeout: 20_000,
      },
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(sv.problems, []);
    await sv.page.close();
    await page.close();
  });

  test('dense data: a 10-minute live session with 60 switches, a 400-session experiment (screenshots)', async () => {
    await submitBatches(base, denseExperiments(Date.now() / 1000).flatMap(sessionEvents));
    const live = await getJson<QoeReply>('/api/experiments/live-10min/qoe');
    assert.ok((live.sessions[0]?.switch_count as number) >= 50, 'seeded 50+ switches');
    const many = await getJson<QoeReply>('/api/experiments/abr-400/qoe');
    assert.equal(many.sessions.length, 400);
    for (const width of [1440, 390]) {
      const sv = await open('#/session/live-10min/live-10min-1', { width });
      await sv.page.waitForSelector(
        'figure.chart[data-title="Playback rate"][data-points]:not([data-points="0"])',
      );
      // 60 switches: short ticks on the x axis instead of lines over the whole plot.
      const px = await pixels(sv.page, 'Buffer level', { switchLine: [140, 88, 172] });
      const box = await sv.page.locator('figure.chart[data-title="Buffer level"] canvas').boundingBox();
      assert.ok(
        (px?.switchLine ?? 0) < box!.height * 60 * 0.5,
        `switch marks stay small: ${JSON.stringify(px)}`,
      );
      assert.equal(await overflow(sv.page), 0, `session at ${width}: no sideways overflow`);
      await shot(sv.page, `dense-session-${width}`);
      assert.deepEqual(sv.problems, []);
      await sv.page.close();

      const ev = await open('#/experiment/abr-400', { width });
      await ev.page.waitForSelector('table.qoe tbody tr[data-row="run-400"]');
      assert.equal(await ev.page.locator('table.qoe tbody tr').count(), 400);
      assert.equal(
        await ev.page.getAttribute('figure.chart[data-title="Startup time"]', 'data-series'),
        'abr-400 (n=400)',
      );
      assert.equal(await overflow(ev.page), 0, `experiment at ${width}: no sideways overflow`);
      await shot(ev.page, `dense-experiment-${width}`, true);
      await ev.page.locator('.cdfs').screenshot({ path: path.join(SHOTS, `dense-cdfs-${width}.png`) });
      for (const sid of ['run-001', 'run-002', 'run-003', 'run-004'])
        await ev.page.check(`input[aria-label="overlay ${sid}"]`);
      await ev.page.click('#overlay-btn');
      await ev.page.waitForSelector('#overlay figure.chart[data-metric="playback_rate"][data-series]');
      await ev.page.locator('#overlay').screenshot({ path: path.join(SHOTS, `dense-overlay-${width}.png`) });
      assert.deepEqual(ev.problems, []);
      await ev.page.close();

      const cv = await open('#/compare/abr-400,live-10min,bola-starlink', { width });
      await cv.page.waitForSelector('table.compare td[data-key]', { state: 'attached' });
      assert.equal(await overflow(cv.page), 0, `compare at ${width}: no sideways overflow`);
      await shot(cv.page, `dense-compare-${width}`);
      assert.deepEqual(cv.problems, []);
      await cv.page.close();

      const lv = await open('#/', { width });
      await lv.page.waitForSelector(
        'tr[data-row="abr-400"] td[data-key="startup_time_s"]:not(:has-text("…"))',
      );
      assert.equal(await overflow(lv.page), 0, `experiments at ${width}: no sideways overflow`);
      await shot(lv.page, `dense-experiments-${width}`);
      assert.deepEqual(lv.problems, []);
      await lv.page.close();
    }
  });
});
