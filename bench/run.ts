/**
 * `npm run bench`: runs the benchmark suites against each store and prints Markdown (paste it
 * into BENCHMARKS.md). MongoDB is MONGO_URL when set, else a FerretDB started for the run
 * (scripts/ferretdb.mjs, as the tests do).
 *
 *   npm run bench -- [--only=ingest,read,sessions,multi] [--stores=sqlite,mongodb] [--seconds=10]
 *                    [--read-events=N] [--baseline=<git rev>] [--code=<git rev>]
 *                    [--profile[=dir]] [--json=file]
 *
 * --baseline checks out that commit beside this one (bench/baseline.ts) and measures it in the
 * same run where a suite can (ingest: single events and batches; sessions: every read).
 * --code (ingest only) measures that commit's server as "this code" instead of this checkout:
 * the cost of one change is its commit against its parent, in one run.
 *
 * A suite is a Bench (bench/lib.ts): add a file and list it in SUITES. `read` runs the read
 * side's bench/read.ts (1,000,000 events per store unless --read-events says otherwise).
 * `multi` runs two server processes on one MongoDB (bench/multi.ts; at most 10 s of load).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Ferret, ferretBinary, startFerret } from '../scripts/ferretdb.mjs';
import { type Baseline, checkoutBaseline } from './baseline.ts';
import { benchIngest } from './ingest.ts';
import { type Bench, type BenchContext, machine, type StoreTarget } from './lib.ts';
import { benchMulti } from './multi.ts';
import { benchRead } from './read-suite.ts';
import { benchSessions } from './sessions.ts';

// Filled in once MongoDB is known (the read suite reuses the same server).
const SUITES: Record<string, Bench> = {};

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'];
  }),
);
const only = (args.get('only') ?? 'ingest,read,sessions,multi').split(',');
const baselineRev = args.get('baseline');
const baseline: Baseline | undefined = baselineRev ? checkoutBaseline(baselineRev) : undefined;
const codeRev = args.get('code');
const code: Baseline | undefined = codeRev ? checkoutBaseline(codeRev) : undefined;
const readEvents = args.has('read-events') ? Number(args.get('read-events')) : undefined;
const storeNames = (args.get('stores') ?? 'sqlite,mongodb').split(',');
const seconds = Number(args.get('seconds') ?? 10);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-bench-'));
const profileArg = args.get('profile');
const profileDir = profileArg
  ? path.resolve(profileArg === 'true' ? 'bench-profiles' : profileArg)
  : undefined;
if (profileDir) fs.mkdirSync(profileDir, { recursive: true });

let ferret: Ferret | undefined;
const stores: StoreTarget[] = [];
let n = 0;
if (storeNames.includes('sqlite')) {
  stores.push({
    name: 'sqlite',
    env: () => ({ STORAGE: 'sqlite', DATA_DIR: fs.mkdtempSync(path.join(tmp, 'sqlite-')) }),
  });
}
if (storeNames.includes('mongodb')) {
  let url = process.env.MONGO_URL;
  if (!url) {
    const bin = ferretBinary();
    if (bin) {
      ferret = await startFerret(bin);
      url = ferret.url;
    }
  }
  if (url) {
    const mongoUrl = url;
    stores.push({
      name: 'mongodb',
      env: () => ({ STORAGE: 'mongodb', MONGO_URL: mongoUrl, MONGO_DATABASE: `bench_${process.pid}_${n++}` }),
      serverPid: ferret?.pid,
    });
  } else {
    console.log('# MongoDB skipped: set MONGO_URL, or install Go so FerretDB can be built');
  }
}

SUITES.ingest = benchIngest;
SUITES.multi = benchMulti;
SUITES.read = benchRead({
  events: readEvents,
  mongoUrl: stores.some((s) => s.name === 'mongodb') ? (process.env.MONGO_URL ?? ferret?.url) : undefined,
});

SUITES.sessions = benchSessions({
  sessions: Number(args.get('sessions') ?? 400),
  perSession: Number(args.get('per-session') ?? 1500),
  bigEvents: Number(args.get('big-events') ?? 1_000_000),
  baseline,
});

const ctx: BenchContext = {
  stores,
  seconds,
  profileDir,
  print: (l = '') => console.log(l),
  results: {},
  baseline,
  code,
};
ctx.print(`## Benchmark run ${new Date().toISOString()}\n`);
ctx.print(`- machine: ${machine()}`);
ctx.print(`- command: npm run bench -- ${process.argv.slice(2).join(' ')}`.trimEnd());
ctx.print(
  `- MongoDB: ${process.env.MONGO_URL ? 'MONGO_URL' : ferret ? 'FerretDB (SQLite backend) started by the bench' : 'none'}`,
);
ctx.print(`- ${seconds} s per case after 1 s warm-up; every case on a fresh store`);
if (baseline)
  ctx.print(`- baseline: ${baseline.rev} (checked out beside this code, measured in the same run)`);
if (code) ctx.print(`- this code: ${code.rev} (checked out, measured as this code)`);
try {
  for (const name of only) {
    const suite = SUITES[name];
    if (!suite) throw new Error(`unknown suite "${name}" (have: ${Object.keys(SUITES).join(', ')})`);
    await suite(ctx);
  }
  const json = args.get('json');
  if (json)
    fs.writeFileSync(json, JSON.stringify({ machine: machine(), seconds, results: ctx.results }, null, 2));
  if (profileDir)
    ctx.print(
      `\nCPU profiles in ${profileDir} (one per process and thread; summarise: node --import tsx bench/profile.ts <file>)`,
    );
} finally {
  baseline?.remove();
  code?.remove();
  await ferret?.stop();
  if (ferret === undefined && process.env.MONGO_URL) {
    // Databases created on a user's MongoDB are dropped.
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(process.env.MONGO_URL);
    try {
      for (let i = 0; i < n; i++) await client.db(`bench_${process.pid}_${i}`).dropDatabase();
    } finally {
      await client.close();
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
