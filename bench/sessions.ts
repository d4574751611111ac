/**
 * The analysis side at a real study's scale (issue "Sessions as first-class data"): an
 * experiment of 400 sessions x 1,500 events (reporter dialect, stalls and switches), read
 * through the real server: the whole experiment as NDJSON, experiment QoE (cold: every
 * session computed from its events; warm: from the summaries), the sessions list, the
 * experiments list, one session's QoE and time series. With --baseline=<rev> the same data
 * and requests run against that commit's code in the same run. Then 8 concurrent one-session
 * reads of a 1,000,000-event session, for the server's peak RSS (SQLite; --big-events=0 skips).
 *
 *   npm run bench -- --only=sessions [--baseline=<rev>] [--sessions=400] [--per-session=1500]
 *                    [--big-events=1000000]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { type ServerProcess, startServerProcess } from '../test/helpers/server-process.ts';
import type { Baseline } from './baseline.ts';
import { type Bench, fmt, peakRssMb, type StoreTarget, table } from './lib.ts';

export interface SessionsBenchOptions {
  sessions: number;
  perSession: number;
  bigEvents: number;
  baseline?: Baseline | undefined;
}

const EXP = 'bench_sessions';
const BIG = 'bench_big_session';
const T0 = 1_760_000_000;

type Doc = Record<string, unknown> & { timestamp: number };

/** One reporter-dialect session of n events: start-up, segments, samples, stalls, switches. */
export function sessionEvents(exp: string, s: number, n: number, sessionId = `s${s}`): Doc[] {
  const out: Doc[] = [];
  const t0 = T0 + s * 37;
  const ev = (dt: number, event_type: string, payload: Record<string, unknown>): Doc => ({
    experiment_id: exp,
    timestamp: t0 + dt,
    event_type,
    protocol: 'dash',
    video_id: `http://media.local/${s % 4}/manifest.mpd`,
    session_id: sessionId,
    event_id: `${sessionId}-${out.length}`,
    payload,
    stored_at: new Date(),
  });
  out.push(ev(0, 'stream_initialized', { mpd_url: 'm' }), ev(0.1, 'play_requested', { autoplay: true }));
  out.push(ev(1.2, 'playback_started', { startup_time_ms: 1100 }));
  let q = 1;
  for (let i = 0; out.length < n - 1; i++) {
    const t = 1.5 + i * 0.2;
    const k = i % 10;
    if (k === 0 && i % 150 === 0) {
      const nq = (q + 1) % 4;
      out.push(
        ev(t, 'quality_change_rendered', { old_quality: q, new_quality: nq, bitrate: (nq + 1) * 1e6 }),
      );
      q = nq;
    } else if (k === 5 && i % 400 === 5) {
      out.push(
        ev(t, 'rebuffer_event', { rebuffer_count: 1, buffer_level: 0, current_bitrate: (q + 1) * 1e6 }),
      );
      out.push(ev(t + 0.15, 'rebuffer_ended', { duration_ms: 150 }));
    } else if (k % 3 === 0) {
      out.push(
        ev(t, 'fragment_loading_completed', {
          type: 'MediaSegment',
          quality: q,
          media_type: 'video',
          duration: 2,
        }),
      );
    } else if (k % 3 === 1) {
      out.push(ev(t, 'buffer_level_updated', { buffer_level: 8 + (i % 20) / 4, media_type: 'video' }));
    } else {
      out.push(
        ev(t, 'periodic_metrics', {
          current_time: t - 1.2,
          playback_rate: 1,
          dropped_frames: Math.floor(i / 100),
          buffer_level: 8 + (i % 20) / 4,
          current_bitrate: (q + 1) * 1e6,
          live_latency: 3 + (i % 7) / 10,
          throughput_bps: 8e6,
        }),
      );
    }
  }
  out.push(ev(1.5 + n * 0.2, 'playback_ended', { total_rebuffers: 1 }));
  return out.slice(0, n);
}

/** Loads docs through the store of the code at `root` (this checkout or the baseline). */
async function load(
  root: string,
  env: Record<string, string>,
  batches: () => Iterable<Doc[]>,
): Promise<void> {
  // src/config.ts before the layers were cut (the baseline), src/config/index.ts after.
  const configModule = ['src/config/index.ts', 'src/config.ts'].find((f) =>
    fs.existsSync(path.join(root, f)),
  );
  const { configFrom } = await import(path.join(root, configModule ?? 'src/config.ts'));
  const { createStore } = await import(path.join(root, 'src/store/index.ts'));
  const store = createStore(configFrom(env));
  await store.open();
  try {
    for (const b of batches()) await store.insertMany(b);
  } finally {
    await store.close();
  }
}

function get(base: string, url: string): Promise<{ status: number; ms: number; bytes: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${url}`, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            bytes,
          }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Median time of `runs` sequential requests (each must be 200). */
async function median(base: string, url: string, runs: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await get(base, url);
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status}`);
    ms.push(r.ms);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)] as number;
}

interface Timings {
  ndjson: number;
  qoeCold: number;
  qoeWarm: number;
  sessions: number;
  experiments: number;
  oneQoe: number;
  oneSeries: number;
  /** Dashboard experiment view: open to numbers on screen (this code only). */
  dashboard?: number | undefined;
}

async function measure(server: ServerProcess): Promise<Timings> {
  const b = server.base;
  const ndjson = await median(b, `/api/metrics/${EXP}?format=ndjson`, 1);
  const qoeCold = await median(b, `/api/experiments/${EXP}/qoe`, 1);
  return {
    ndjson,
    qoeCold,
    qoeWarm: await median(b, `/api/experiments/${EXP}/qoe`, 3),
    sessions: await median(b, `/api/experiments/${EXP}/sessions`, 5),
    experiments: await median(b, '/api/experiments', 5),
    oneQoe: await median(b, `/api/experiments/${EXP}/qoe?session=s7`, 5),
    oneSeries: await median(b, `/api/experiments/${EXP}/timeseries?session=s7&metric=buffer`, 5),
  };
}

async function studyCase(
  store: StoreTarget,
  root: string | undefined,
  o: SessionsBenchOptions,
): Promise<Timings> {
  // The dashboard bundle the server serves (esbuild only: quick).
  if (!root)
    spawnSync('npm', ['run', 'build:web'], { cwd: path.resolve(import.meta.dirname, '..'), stdio: 'ignore' });
  const env = store.env();
  await load(root ?? path.resolve(import.meta.dirname, '..'), env, function* () {
    for (let s = 0; s < o.sessions; s++) yield sessionEvents(EXP, s, o.perSession);
  });
  // No background summarising: the first QoE computes every session (cold), the next read
  // the summaries it cached (warm).
  const server = await startServerProcess(
    { ...env, LOG_LEVEL: 'warn', SESSION_SUMMARIZE_AFTER_MS: '86400000' },
    ['serve'],
    {
      root,
    },
  );
  try {
    const t = await measure(server);
    if (!root) t.dashboard = await dashboardTime(server.base);
    return t;
  } finally {
    await server.stop(15_000);
  }
}

/**
 * Milliseconds from opening the dashboard's experiment view (a fresh page at its URL) until it
 * has drawn its numbers (the client marks body[data-ready]): median of 3. Null without Chromium.
 */
async function dashboardTime(base: string): Promise<number | undefined> {
  if (!fs.existsSync('/usr/bin/chromium')) return undefined;
  const { launchBrowser } = await import('../test/e2e/harness/browser.ts');
  const browser = await launchBrowser({ viewport: { width: 1440, height: 900 } });
  try {
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage();
      const started = Date.now();
      await page.goto(`${base}/#/experiment/${EXP}`);
      await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 120_000 });
      ms.push(Date.now() - started);
      await page.close();
    }
    ms.sort((a, b) => a - b);
    return ms[1];
  } finally {
    await browser.close();
  }
}

export function benchSessions(o: SessionsBenchOptions): Bench {
  return async (ctx) => {
    for (const store of ctx.stores) {
      if (o.sessions === 0) {
        if (store.name === 'sqlite' && o.bigEvents > 0) await bigSession(ctx, store, o.bigEvents);
        continue;
      }
      ctx.print(
        `\n### Sessions and QoE on ${store.name} (${o.sessions} sessions x ${o.perSession} events)\n`,
      );
      const now = await studyCase(store, undefined, o);
      const old = o.baseline ? await studyCase(store, o.baseline.root, o) : undefined;
      const row = (what: string, k: Exclude<keyof Timings, 'dashboard'>) => [
        what,
        fmt(now[k], 1),
        old ? fmt(old[k], 1) : '-',
        old && now[k] > 0 ? `${fmt(old[k] / now[k], 1)}x` : '-',
      ];
      ctx.print(
        table(
          [
            'request (median ms)',
            'this code',
            o.baseline ? `baseline ${o.baseline.rev}` : 'baseline',
            'speed-up',
          ],
          [
            row('stream every event (NDJSON)', 'ndjson'),
            row('experiment QoE, first read (cold)', 'qoeCold'),
            row('experiment QoE (warm: summaries)', 'qoeWarm'),
            row('sessions list', 'sessions'),
            row('experiments list', 'experiments'),
            row('one session QoE', 'oneQoe'),
            row('one session buffer series', 'oneSeries'),
            [
              'dashboard experiment view, open to numbers',
              now.dashboard === undefined ? '-' : fmt(now.dashboard, 0),
              '-',
              '-',
            ],
          ],
        ),
      );
      const ratio = (100 * now.qoeWarm) / now.ndjson;
      ctx.print('');
      ctx.print(`- experiment QoE (warm) / NDJSON stream: ${fmt(ratio, 2)} % (target <= 5 %)`);
      if (old)
        ctx.print(`- baseline experiment QoE / NDJSON stream: ${fmt((100 * old.qoeCold) / old.ndjson, 0)} %`);
      ctx.results[`sessions.${store.name}`] = { now, old, ratio };
      if (store.name === 'sqlite' && o.bigEvents > 0) await bigSession(ctx, store, o.bigEvents);
    }
  };
}

/** 8 concurrent one-session reads (QoE and time series) of one very large session. */
async function bigSession(ctx: Parameters<Bench>[0], store: StoreTarget, n: number): Promise<void> {
  const env = store.env();
  await load(path.resolve(import.meta.dirname, '..'), env, function* () {
    const all = sessionEvents(BIG, 0, n, 'big');
    for (let i = 0; i < all.length; i += 10_000) yield all.slice(i, i + 10_000);
  });
  // From dist/, as `npm start` runs it: the figure is the server's memory, not tsx's.
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: 'ignore',
  });
  if (build.status !== 0) throw new Error('npm run build failed');
  const server = await startServerProcess(
    { ...env, LOG_LEVEL: 'warn', SESSION_SUMMARIZE_AFTER_MS: '86400000' },
    ['serve'],
    { dist: true },
  );
  try {
    const base = peakRssMb(server.pid);
    const started = Date.now();
    const urls = [
      ...Array.from({ length: 4 }, () => `/api/experiments/${BIG}/qoe?session=big`),
      ...['buffer', 'bitrate', 'latency', 'throughput'].map(
        (m) => `/api/experiments/${BIG}/timeseries?session=big&metric=${m}`,
      ),
    ];
    const replies = await Promise.all(urls.map((u) => get(server.base, u)));
    const seconds = (Date.now() - started) / 1000;
    const peak = peakRssMb(server.pid);
    const ok = replies.filter((r) => r.status === 200).length;
    ctx.print('');
    ctx.print(
      `- 8 concurrent one-session reads (4 QoE, 4 series) of a ${fmt(n)}-event session: ${ok}/8 answered 200 in ${fmt(seconds, 1)} s; server peak RSS ${fmt(peak)} MB (${fmt(base)} MB before; target < 300 MB)`,
    );
    ctx.results['sessions.big'] = { n, ok, seconds, peak, base };
  } finally {
    await server.stop(15_000);
  }
}
