// The Livestreaming-Testbed's own page (test/e2e/fixtures/testbed/, verbatim from its repository)
// under dash.js 4.7.4, as its users run it: three runs of one scenario under one experiment id,
// one manifest URL, no session id, the second run throttled into stalls. Starts ffmpeg (once),
// a static server, the stats-server (SQLite, then the same events into a MongoDB-backed app) and
// Chromium. Each session's startup, stalls and played time must agree with the <video>
// element's own events (logged in the page, never sent) within the tolerances of docs/qoe.md.
// TESTBED_E2E_DUMP=<file> writes the runs (element logs) and the stored events there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { StoredEvent } from '../../src/events/schema.ts';
import type { SessionQoe } from '../../src/qoe/index.ts';
import { mongoFixture, type StoreFixture, sqliteFixture } from '../helpers/stores.ts';
import { type ElementEvent, type ElementTruth, elementLoggerScript, elementTruth } from './element-truth.ts';
import { type E2E, e2eSkip, startE2E } from './harness/index.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(HERE, 'fixtures/testbed');
const ROOT = path.resolve(HERE, '../..');
const CDN_DASHJS = 'https://cdn.dashjs.org/latest/dash.all.min.js';
const DASHJS4 = path.join(ROOT, 'node_modules/dashjs4/dist/dash.all.min.js');

/** Agreement with the element (docs/qoe.md, "How far the testbed figures can be off"). */
export const TOLERANCE = {
  /** Startup: |server − element| in seconds. */
  startupS: 0.35,
  /** Stall time per session: |server − element| in seconds, plus this share of the element's. */
  stallTimeS: 0.5,
  stallTimeShare: 0.1,
  /** Played time: |server − element| in seconds. */
  playedS: 1,
};

/**
 * 2500 kbit/s, then 100 kbit/s from 3 s to 10 s after the load (below the lowest rendition,
 * 250 kbit/s + 64 kbit/s audio, so the buffer runs dry), then 2500 kbit/s again.
 */
const THROTTLE_STEPS: Array<[atMs: number, bytesPerS: number]> = [
  [0, 312_500],
  [3_000, 12_500],
  [10_000, 312_500],
];

interface Run {
  index: number;
  throttled: boolean;
  /** Wall-clock bounds of the run (Unix s): its events are stamped inside them. */
  from: number;
  to: number;
  log: ElementEvent[];
  truth: ElementTruth;
  pageErrors: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function playRun(e2e: E2E, experimentId: string, index: number, throttled: boolean): Promise<Run> {
  const page = await e2e.browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.addInitScript(elementLoggerScript('#videoPlayer'));
  // What the page's inline script means to set from ?stats_server= and ?experiment_id=. As
  // shipped it cannot: dash_player.js (loaded first) reads them when it loads, and the inline
  // script dies of "Identifier 'statsServerUrl' has already been declared" before defining
  // anything, so "Load Player" does nothing. A runner therefore sets them before the page loads.
  await page.addInitScript(
    `window.STATS_SERVER_URL = ${JSON.stringify(e2e.stats.url)}; window.EXPERIMENT_ID = ${JSON.stringify(experimentId)};`,
  );
  const timers: NodeJS.Timeout[] = [];
  const from = Date.now() / 1000;
  try {
    const q = new URLSearchParams({
      mpd: e2e.manifestUrl('dash'),
      stats_server: e2e.stats.url,
      experiment_id: experimentId,
    });
    await page.goto(`${e2e.web.origin}/testbed/dash_player.html?${q}`);
    if (throttled) {
      await e2e.throttle(page, { downloadBytesPerS: THROTTLE_STEPS[0]![1] });
      for (const [at, bps] of THROTTLE_STEPS.slice(1)) {
        timers.push(
          setTimeout(() => void e2e.throttle(page, { downloadBytesPerS: bps }).catch(() => {}), at),
        );
      }
    }
    // What "Load Player" would do: the page's own initializeDashPlayer(mpd), with the two
    // status helpers its inline script would have defined (they only write to the page).
    await page.evaluate(`(() => {
      window.updateStatus = (m) => { document.getElementById('status').textContent = 'Status: ' + m; };
      window.logEvent = () => {};
      try { initializeDashPlayer(${JSON.stringify(e2e.manifestUrl('dash'))}); }
      catch (e) { window.__setupError = String(e); }
    })()`);
    await page.waitForFunction(`window.__truth.some((e) => e.type === 'ended')`, undefined, {
      timeout: 120_000,
      polling: 200,
    });
    // The page sends each event with its own fetch: let the last ones land.
    await sleep(1500);
    const log = (await page.evaluate('window.__truth')) as ElementEvent[];
    const setupError = (await page.evaluate('window.__setupError || null')) as string | null;
    if (setupError) pageErrors.push(`setup: ${setupError}`);
    return { index, throttled, from, to: Date.now() / 1000, log, truth: elementTruth(log), pageErrors };
  } finally {
    for (const t of timers) clearTimeout(t);
    await page.close();
  }
}

/** Events as a client would submit them (what the store added removed). */
function asSubmitted(e: StoredEvent, experimentId: string): Record<string, unknown> {
  return {
    experiment_id: experimentId,
    timestamp: e.timestamp,
    event_type: e.event_type,
    protocol: e.protocol,
    video_id: e.video_id,
    payload: e.payload,
  };
}

async function submitAll(app: FastifyInstance, events: Array<Record<string, unknown>>): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/api/submit/batch', payload: { events } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().stored, events.length, res.body);
}

async function qoeOf(app: FastifyInstance, experimentId: string): Promise<SessionQoe[]> {
  const res = await app.inject({ method: 'GET', url: `/api/experiments/${experimentId}/qoe` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().sessions as SessionQoe[];
}

/** The session holding a run's playback: the one that started (a pre-init ghost has no figures). */
function played(sessions: SessionQoe[]): SessionQoe[] {
  return sessions.filter((s) => s.played_time_s !== null && s.played_time_s > 0);
}

function agreement(run: Run, s: SessionQoe): string[] {
  const t = run.truth;
  const problems: string[] = [];
  const startupTruth = t.firstPlaying !== null && t.loadstart !== null ? t.firstPlaying - t.loadstart : null;
  if (startupTruth === null || s.startup_time_s === null) problems.push(`startup ${s.startup_time_s}`);
  else if (Math.abs(s.startup_time_s - startupTruth) > TOLERANCE.startupS)
    problems.push(`startup ${s.startup_time_s} vs element ${startupTruth.toFixed(3)}`);
  if (s.stall_count !== t.stalls.length)
    problems.push(`stall count ${s.stall_count} vs element ${t.stalls.length}`);
  const stallTol = TOLERANCE.stallTimeS + TOLERANCE.stallTimeShare * t.stallTimeS;
  if (s.stall_time_s === null || Math.abs(s.stall_time_s - t.stallTimeS) > stallTol)
    problems.push(`stall time ${s.stall_time_s} vs element ${t.stallTimeS.toFixed(3)}`);
  if (s.played_time_s === null || Math.abs(s.played_time_s - t.playedTimeS) > TOLERANCE.playedS)
    problems.push(`played ${s.played_time_s} vs element ${t.playedTimeS.toFixed(3)}`);
  if (s.exit_before_start) problems.push('exit before start');
  return problems;
}

function describeRun(run: Run, s: SessionQoe | undefined): string {
  const t = run.truth;
  const startup = t.firstPlaying !== null && t.loadstart !== null ? t.firstPlaying - t.loadstart : null;
  return (
    `run ${run.index}${run.throttled ? ' (throttled)' : ''}: element startup ${startup?.toFixed(3)} s, ` +
    `${t.stalls.length} stalls ${t.stallTimeS.toFixed(3)} s [${t.stalls.map((x) => (x.end - x.start).toFixed(3)).join(', ')}], ` +
    `played ${t.playedTimeS.toFixed(3)} s | server startup ${s?.startup_time_s}, ${s?.stall_count} stalls ` +
    `${s?.stall_time_s} s [${s?.stalls.map((x) => x.duration_s.toFixed(3)).join(', ')}], played ${s?.played_time_s}, ` +
    `switches ${s?.switch_count}`
  );
}

describe('the testbed page (dash.js 4.7.4): QoE against the <video> element', { skip: e2eSkip }, () => {
  let e2e: E2E;
  const experimentId = `e2e_testbed_${process.pid}`;
  const runs: Run[] = [];
  let stored: StoredEvent[] = [];

  before(
    async () => {
      e2e = await startE2E();
      const html = fs.readFileSync(path.join(FIXTURE, 'dash_player.html'), 'utf8');
      assert.ok(html.includes(CDN_DASHJS), 'the fixture page loads dash.js from its CDN');
      e2e.web.mount('/testbed/dash_player.html', {
        html: html.replace(CDN_DASHJS, '/lib/dashjs4/dash.all.min.js'),
      });
      e2e.web.mount('/testbed/dash_player.js', { file: path.join(FIXTURE, 'dash_player.js') });
      e2e.web.mount('/lib/dashjs4/dash.all.min.js', { file: DASHJS4 });
      // Three runs of one scenario, one after the other, as the testbed's runner plays them.
      for (const [i, throttled] of [false, true, false].entries()) {
        runs.push(await playRun(e2e, experimentId, i + 1, throttled));
        await sleep(1000);
      }
      stored = await e2e.stats.events(experimentId);
      if (process.env.TESTBED_E2E_DUMP) {
        fs.writeFileSync(process.env.TESTBED_E2E_DUMP, JSON.stringify({ runs, stored }, null, 1));
      }
    },
    { timeout: 600_000 },
  );
  after(async () => {
    await e2e?.close();
  });

  test('the page runs as shipped: its setup stops at PLAYBACK_STATE_CHANGED', () => {
    const types = new Set(stored.map((e) => e.event_type));
    assert.deepEqual([...types].sort(), [
      'buffer_level_updated',
      'fragment_loading_completed',
      'fragment_loading_started',
      'stream_initialized',
    ]);
    for (const r of runs) {
      assert.ok(
        r.pageErrors.some((e) => e.startsWith('setup:')),
        `run ${r.index}: the page's setup should throw (${r.pageErrors.join('; ')})`,
      );
    }
    const throttled = runs.find((r) => r.throttled)!;
    assert.ok(throttled.truth.stalls.length > 0, 'the throttled run stalls (element)');
  });

  for (const fixture of [sqliteFixture(), mongoFixture()] as StoreFixture[]) {
    describe(`on ${fixture.name}`, { skip: fixture.skip }, () => {
      let app: FastifyInstance;
      before(async () => {
        app = await buildApp(fixture.config({ LOG_LEVEL: 'silent' }));
        await app.ready();
        // Each run alone under an experiment of its own: QoE independent of where runs are split.
        for (const r of runs) {
          const own = stored.filter((e) => e.timestamp >= r.from && e.timestamp <= r.to);
          await submitAll(
            app,
            own.map((e) => asSubmitted(e, `${experimentId}_run${r.index}`)),
          );
        }
        await submitAll(
          app,
          stored.map((e) => asSubmitted(e, experimentId)),
        );
      });
      after(async () => {
        await app?.close();
        await fixture.cleanup();
      });

      test('one run per experiment: startup, stalls and played time agree with the element', async () => {
        const lines: string[] = [];
        const problems: string[] = [];
        for (const r of runs) {
          const sessions = played(await qoeOf(app, `${experimentId}_run${r.index}`));
          assert.equal(sessions.length, 1, `run ${r.index}: one session that played`);
          lines.push(describeRun(r, sessions[0]));
          for (const p of agreement(r, sessions[0]!)) problems.push(`run ${r.index}: ${p}`);
        }
        console.log(`# ${fixture.name}\n# ${lines.join('\n# ')}`);
        assert.deepEqual(problems, [], lines.join('\n'));
      });

      // dash.js sends 8-10 events before STREAM_INITIALIZED: a run starts at the first of them
      // (src/sessions/runs.ts), so three runs are three sessions, with no ghost between them.
      test('three runs under one experiment id: three sessions, each agreeing with its run', async () => {
        const sessions = await qoeOf(app, experimentId);
        assert.equal(
          sessions.length,
          runs.length,
          `sessions: ${sessions.map((s) => s.session_id).join(', ')}`,
        );
        const problems: string[] = [];
        for (const [i, r] of runs.entries())
          for (const p of agreement(r, sessions[i]!)) problems.push(`run ${r.index}: ${p}`);
        assert.deepEqual(problems, []);
      });
    });
  }
});
