/**
 * Ingest benchmark, per store: (1) single-event POST /api/submit, 64 connections; (2) batches
 * of 100 on POST /api/submit/batch, 16 connections; (3) the store's own ceiling (insertMany,
 * no HTTP); (1) again with GROUP_COMMIT=off, and with WORKERS=2. The server and the load
 * generator (autocannon, bench/load.mjs) are separate processes; every case gets a fresh store.
 */
import { startServerProcess } from '../test/helpers/server-process.ts';
import {
  type Bench,
  type BenchContext,
  cpuMs,
  fmt,
  peakRssMb,
  runNodeJson,
  type StoreTarget,
  table,
} from './lib.ts';

interface LoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  events: number;
  p50: number;
  p99: number;
}

interface CaseResult {
  eventsPerSec: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  /** Server CPU time per 1000 events stored (user + system, all threads and workers). */
  cpuMsPer1k: number;
  /** CPU time of the database server process (FerretDB) per 1000 events, when it runs here. */
  dbCpuMsPer1k?: number;
  failed: number;
}

interface LoadSpec {
  connections: number;
  batchSize?: number;
  /** Events as the testbed's page sends them (no session id: runs of the manifest URL). */
  testbed?: boolean;
}

async function serverCase(
  ctx: BenchContext,
  store: StoreTarget,
  label: string,
  serverEnv: Record<string, string>,
  load: LoadSpec,
  root?: string,
): Promise<CaseResult> {
  const nodeArgs = ctx.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}/${store.name}-${label}`]
    : [];
  const server = await startServerProcess({ ...store.env(), LOG_LEVEL: 'warn', ...serverEnv }, ['serve'], {
    nodeArgs,
    root,
  });
  try {
    const path = load.batchSize ? '/api/submit/batch' : '/api/submit';
    const spec = (duration: number) =>
      JSON.stringify({
        url: `${server.base}${path}`,
        duration,
        connections: load.connections,
        batchSize: load.batchSize,
        testbed: load.testbed,
      });
    // Warm up (JIT, connections, first index pages), then measure.
    await runNodeJson<LoadResult>(['bench/load.mjs', spec(1)]);
    const cpu0 = cpuMs(server.pid);
    const db0 = store.serverPid ? cpuMs(store.serverPid) : 0;
    const r = await runNodeJson<LoadResult>(['bench/load.mjs', spec(ctx.seconds)]);
    const cpu = cpuMs(server.pid) - cpu0;
    const db = store.serverPid ? cpuMs(store.serverPid) - db0 : undefined;
    return {
      eventsPerSec: r.events / r.seconds,
      p50: r.p50,
      p99: r.p99,
      peakRssMb: peakRssMb(server.pid),
      cpuMsPer1k: r.events > 0 ? (1000 * cpu) / r.events : 0,
      dbCpuMsPer1k: db !== undefined && r.events > 0 ? (1000 * db) / r.events : undefined,
      failed: r.non2xx + r.errors + r.timeouts,
    };
  } finally {
    await server.stop(15_000);
  }
}

export const benchIngest: Bench = async (ctx) => {
  for (const store of ctx.stores) {
    ctx.print(`\n### Ingest on ${store.name}\n`);
    const db0 = store.serverPid ? cpuMs(store.serverPid) : 0;
    const ceilingRaw = await runNodeJson<{
      eventsPerSec: number;
      p50: number;
      p99: number;
      peakRssKb: number;
      cpuMsPer1k: number;
      events: number;
      groupSize: number;
    }>(['--import', 'tsx', 'bench/ceiling.ts', String(Math.max(3, ctx.seconds / 2))], {
      ...store.env(),
      LOG_LEVEL: 'warn',
    });
    const ceiling: CaseResult = {
      eventsPerSec: ceilingRaw.eventsPerSec,
      p50: ceilingRaw.p50,
      p99: ceilingRaw.p99,
      peakRssMb: ceilingRaw.peakRssKb / 1024,
      cpuMsPer1k: ceilingRaw.cpuMsPer1k,
      // Includes the ceiling process's start-up and warm-up, so slightly high.
      dbCpuMsPer1k: store.serverPid ? (1000 * (cpuMs(store.serverPid) - db0)) / ceilingRaw.events : undefined,
      failed: 0,
    };
    const here = ctx.code?.root;
    const single = await serverCase(ctx, store, 'single', {}, { connections: 64 }, here);
    const batch = await serverCase(ctx, store, 'batch100', {}, { connections: 16, batchSize: 100 }, here);
    const singleOff = await serverCase(
      ctx,
      store,
      'single-nogc',
      { GROUP_COMMIT: 'off' },
      { connections: 64 },
      here,
    );
    const singleW2 = await serverCase(ctx, store, 'single-w2', { WORKERS: '2' }, { connections: 64 }, here);
    const testbed = await serverCase(ctx, store, 'testbed', {}, { connections: 64, testbed: true }, here);
    const rows: [string, CaseResult][] = [
      ['(1) single POST /api/submit, 64 conns, group commit on', single],
      ['(2) batches of 100, 16 conns', batch],
      [`(3) store ceiling: insertMany(${ceilingRaw.groupSize}), no HTTP (latency per call)`, ceiling],
      ['(1) with GROUP_COMMIT=off', singleOff],
      ['(1) with WORKERS=2', singleW2],
      ['(4) single, testbed-style (no session_id), 64 conns', testbed],
    ];
    ctx.print(
      table(
        [
          'case',
          'events/s',
          'p50 ms',
          'p99 ms',
          'peak RSS MB',
          'CPU ms / 1k events',
          'database CPU ms / 1k events',
          'failed requests',
        ],
        rows.map(([name, r]) => [
          name,
          fmt(r.eventsPerSec),
          fmt(r.p50, 1),
          fmt(r.p99, 1),
          fmt(r.peakRssMb),
          fmt(r.cpuMsPer1k, 1),
          r.dbCpuMsPer1k === undefined ? '-' : fmt(r.dbCpuMsPer1k, 1),
          r.failed,
        ]),
      ),
    );
    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
    const r13 = ratio(single.eventsPerSec, ceiling.eventsPerSec);
    const r23 = ratio(batch.eventsPerSec, ceiling.eventsPerSec);
    const gc = ratio(single.eventsPerSec, singleOff.eventsPerSec);
    ctx.print('');
    ctx.print(`- (1)/(3) single vs ceiling: ${fmt(r13 * 100, 1)} %`);
    ctx.print(`- (2)/(3) batch vs ceiling: ${fmt(r23 * 100, 1)} %`);
    ctx.print(`- (1) group commit on/off: ${fmt(gc, 2)}x`);
    if (store.name === 'sqlite') {
      ctx.print(
        `- targets (embedded): batch >= 50 % of ceiling: ${r23 >= 0.5 ? 'met' : 'MISSED'}; ` +
          `single >= 10,000 events/s with p99 < 25 ms: ${single.eventsPerSec >= 10_000 && single.p99 < 25 ? 'met' : 'MISSED'}`,
      );
    } else {
      ctx.print(`- target (MongoDB): group commit >= 5x without: ${gc >= 5 ? 'met' : 'MISSED'}`);
    }
    let vsBaseline: { single: CaseResult; batch: CaseResult; testbed: CaseResult } | undefined;
    if (ctx.baseline) {
      // The same two cases on the baseline's code, right after, on the same machine state.
      const root = ctx.baseline.root;
      vsBaseline = {
        single: await serverCase(ctx, store, 'single-base', {}, { connections: 64 }, root),
        batch: await serverCase(ctx, store, 'batch100-base', {}, { connections: 16, batchSize: 100 }, root),
        testbed: await serverCase(ctx, store, 'testbed-base', {}, { connections: 64, testbed: true }, root),
      };
      const pct = (a: number, b: number) => fmt((100 * a) / b, 1);
      ctx.print(
        `- vs baseline ${ctx.baseline.rev}: single ${fmt(vsBaseline.single.eventsPerSec)} events/s ` +
          `(this code ${pct(single.eventsPerSec, vsBaseline.single.eventsPerSec)} %), batches ` +
          `${fmt(vsBaseline.batch.eventsPerSec)} events/s (this code ${pct(batch.eventsPerSec, vsBaseline.batch.eventsPerSec)} %), ` +
          `testbed-style ${fmt(vsBaseline.testbed.eventsPerSec)} events/s (this code ${pct(testbed.eventsPerSec, vsBaseline.testbed.eventsPerSec)} %)`,
      );
    }
    ctx.results[`ingest.${store.name}`] = {
      single,
      batch,
      ceiling,
      singleOff,
      singleW2,
      testbed,
      r13,
      r23,
      gc,
      vsBaseline,
    };
  }
};
