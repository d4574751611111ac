/**
 * Read-side benchmark: loads N events (default 1,000,000) into each store with insertMany in
 * big batches, then measures events/s and the peak RSS (VmHWM) of the process doing the work:
 * a fresh server for a full JSON read and a full NDJSON read over HTTP, and the export CLI
 * for NDJSON and Parquet. Targets (issue 4): >= 100,000 events/s NDJSON export on SQLite,
 * peak RSS < 300 MB for any read or export.
 *
 *   node --import tsx bench/read.ts [--events N] [--stores sqlite,mongodb] [--tsx]
 *
 * The server and CLI run from dist/ (built first with `npm run build`, as `npm start` runs);
 * --tsx runs them from source instead. MongoDB: MONGO_URL, else a FerretDB started from
 * FERRETDB_BIN or .cache/bin/ferretdb; skipped (with a line saying so) when neither exists.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ferretBinary, freePort, root, startFerret } from '../scripts/ferretdb.mjs';
import { configFrom } from '../src/config/index.ts';
import type { EventDoc } from '../src/events/schema.ts';
import { createStore } from '../src/store/index.ts';
import type { ReadResult } from './lib.ts';

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    stores: { type: 'string', default: 'sqlite,mongodb' },
    tsx: { type: 'boolean', default: false },
  },
});
const N = Number(opts.events);
const EXP = 'bench_read';
const BATCH = 10_000;

type Result = ReadResult;
const results: Result[] = [];
function record(r: Result) {
  results.push(r);
  log(
    `${r.store} ${r.what}: ${r.events} events, ${r.seconds} s, ${r.eventsPerSec} events/s, peak RSS ${r.peakRssMb} MB`,
  );
}

function log(msg: string) {
  process.stderr.write(`# ${msg}\n`);
}

/** Peak resident set (VmHWM) of a live process, in MB; polled because it vanishes at exit. */
function watchPeak(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // exited
    }
  };
  const t = setInterval(read, 50);
  return {
    stop() {
      read();
      clearInterval(t);
      return Math.round(peak);
    },
  };
}

function nodeArgs(): string[] {
  return opts.tsx ? ['--import', 'tsx', path.join(root, 'src/cli.ts')] : [path.join(root, 'dist/cli.js')];
}

function event(i: number): EventDoc {
  const session = `s${i % 200}`;
  const t = 1_700_000_000 + i / 100;
  const kind = i % 4;
  const base = {
    experiment_id: EXP,
    timestamp: t,
    protocol: 'dash',
    video_id: 'http://media.local/live/manifest.mpd',
  };
  const payload =
    kind === 0
      ? {
          type: 'MediaSegment',
          url: `http://media.local/live/video_${i}.m4s`,
          quality: i % 5,
          media_type: 'video',
          start_time: t - 0.2,
          duration: 2,
        }
      : kind === 1
        ? { buffer_level: (i % 300) / 10, media_type: 'video' }
        : kind === 2
          ? {
              current_time: i / 10,
              duration: 600,
              playback_rate: 1,
              dropped_frames: i % 7,
              buffer_level: 3.2,
              current_bitrate: 2_000_000,
              live_latency: 3.1,
            }
          : { old_state: 'waiting', new_state: 'playing' };
  const type = [
    'fragment_loading_completed',
    'buffer_level_updated',
    'periodic_metrics',
    'playback_state_changed',
  ][kind] as string;
  return {
    ...base,
    event_type: type,
    payload,
    session_id: session,
    event_id: `ev-${i}`,
    stored_at: new Date(),
  };
}

async function load(env: Record<string, string>): Promise<void> {
  const store = createStore(configFrom(env));
  await store.open();
  try {
    const started = Date.now();
    for (let i = 0; i < N; i += BATCH) {
      const batch: EventDoc[] = [];
      for (let j = i; j < Math.min(N, i + BATCH); j++) batch.push(event(j));
      await store.insertMany(batch);
      if ((i / BATCH) % 20 === 0) log(`loaded ${i + batch.length}/${N}`);
    }
    log(`loaded ${N} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await store.close();
  }
}

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs(), 'serve'], {
    cwd: root,
    env: { ...process.env, ...env, SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      http
        .get({ host: '127.0.0.1', port, path: '/api/health' }, (res) => {
          res.resume();
          r(res.statusCode === 200);
        })
        .on('error', () => r(false));
    });
    if (ok) return { child, port };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('server did not start within 30 s');
}

/** Reads the whole experiment over HTTP; returns the events counted in the body. */
function httpRead(port: number, format: 'json' | 'ndjson'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/api/metrics/${EXP}?format=${format}` }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        let lines = 0;
        let tail = '';
        res.on('data', (chunk: Buffer) => {
          if (format === 'ndjson') {
            for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
          } else {
            tail = (tail + chunk.toString('latin1')).slice(-200);
          }
        });
        res.on('end', () => {
          if (!res.complete) return reject(new Error('response cut short'));
          if (format === 'ndjson') return resolve(lines);
          const m = /"count":(\d+)/.exec(tail);
          resolve(m ? Number(m[1]) : -1);
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function benchHttp(storeName: string, env: Record<string, string>, format: 'json' | 'ndjson') {
  const { child, port } = await startServer(env);
  const peak = watchPeak(child.pid as number);
  try {
    const started = process.hrtime.bigint();
    const n = await httpRead(port, format);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    record({
      store: storeName,
      what: `GET /api/metrics (${format}, full read)`,
      events: n,
      seconds: round(seconds),
      eventsPerSec: Math.round(n / seconds),
      peakRssMb: peak.stop(),
    });
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function benchExport(storeName: string, env: Record<string, string>, format: 'ndjson' | 'parquet') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-bench-export-'));
  const out = path.join(dir, `out.${format}`);
  try {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [...nodeArgs(), 'export', EXP, '--format', format, '--out', out], {
      cwd: root,
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const peak = watchPeak(child.pid as number);
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const peakMb = peak.stop();
    if (code !== 0) throw new Error(`export failed (${code}): ${stderr}`);
    const m = /exported (\d+) events .* in ([\d.]+) s/.exec(stderr);
    const n = m ? Number(m[1]) : N;
    const seconds = m ? Number(m[2]) : wall;
    record({
      store: storeName,
      what: `export --format ${format}`,
      events: n,
      seconds: round(seconds),
      eventsPerSec: Math.round(n / seconds),
      peakRssMb: peakMb,
      note: `${(fs.statSync(out).size / 1e6).toFixed(0)} MB file; ${round(wall)} s with process start`,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main() {
  if (!opts.tsx) {
    log('building dist/ (npm run build)');
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const stores = String(opts.stores).split(',');
  log(
    `${N} events per store; ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const name of stores) {
    let env: Record<string, string>;
    let cleanup = () => {};
    if (name === 'sqlite') {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-bench-read-'));
      env = { STORAGE: 'sqlite', DATA_DIR: dir, SQLITE_SYNCHRONOUS: 'NORMAL' };
      cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
    } else if (name === 'mongodb') {
      let url = process.env.MONGO_URL;
      if (!url) {
        const bin = ferretBinary();
        if (!bin) {
          log('MongoDB skipped: set MONGO_URL, or install Go so FerretDB can be built');
          continue;
        }
        const ferret = await startFerret(bin);
        url = ferret.url;
        cleanup = () => void ferret.stop();
        log(`MongoDB: FerretDB at ${url}`);
      }
      env = {
        STORAGE: 'mongodb',
        // The driver's own option, in the connection string, as a user would set it.
        MONGO_URL: `${url}${url.includes('?') ? '&' : /^mongodb(\+srv)?:\/\/[^/]+\//.test(url) ? '?' : '/?'}serverSelectionTimeoutMS=10000`,
        MONGO_DATABASE: `bench_read_${process.pid}`,
      };
    } else {
      throw new Error(`unknown store ${name}`);
    }
    try {
      log(`${name}: loading`);
      await load(env);
      for (const format of ['json', 'ndjson'] as const) {
        log(`${name}: HTTP ${format}`);
        await benchHttp(name, env, format);
      }
      for (const format of ['ndjson', 'parquet'] as const) {
        log(`${name}: export ${format}`);
        await benchExport(name, env, format);
      }
      if (name === 'mongodb' && process.env.MONGO_URL) {
        const store = createStore(configFrom(env));
        await store.open();
        await store.deleteExperiment(EXP);
        await store.close();
      }
    } finally {
      cleanup();
    }
  }
  console.table(results);
  console.log(JSON.stringify({ benchmark: 'read', events: N, loadavg: os.loadavg(), results }, null, 2));
  const slow = results.find((r) => r.store === 'sqlite' && r.what === 'export --format ndjson');
  const fat = results.filter((r) => r.peakRssMb >= 300);
  if (slow && slow.eventsPerSec < 100_000)
    log(`below target: SQLite NDJSON export ${slow.eventsPerSec} events/s`);
  for (const r of fat) log(`above target: ${r.store} ${r.what} peak RSS ${r.peakRssMb} MB`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
