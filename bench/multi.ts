/**
 * Two server processes on one MongoDB (`--only=multi`): the scale-out layout of docs/scaling.md
 * on one machine. Each server gets its own load generator (bench/load-multi.mjs, 32 connections
 * of single events); a tenth of the event_ids are sent to both servers at about the same time.
 * Reports the combined throughput, then reads the collection back and checks that every
 * acknowledged event_id is stored exactly once. Bounded: at most 10 s of load, no warm-up.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { COLLECTION_PREFIX } from '../src/store/mongo/index.ts';
import { startServerProcess } from '../test/helpers/server-process.ts';
import { type Bench, cpuMs, fmt, runNodeJson, table } from './lib.ts';

interface MultiLoad {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  acked: number;
  p50: number;
  p99: number;
}

const CONNECTIONS_PER_SERVER = 32;
const SHARE_EVERY = 10;

export const benchMulti: Bench = async (ctx) => {
  ctx.print('\n### Two server processes on one MongoDB\n');
  const mongo = ctx.stores.find((s) => s.name === 'mongodb');
  if (!mongo) {
    ctx.print('Skipped: needs MongoDB (MONGO_URL, or Go to build FerretDB).');
    return;
  }
  const env: Record<string, string> = { ...mongo.env(), LOG_LEVEL: 'warn' };
  const seconds = Math.min(ctx.seconds, 10);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-multi-'));
  const servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  try {
    const run = `m${process.pid.toString(36)}`;
    const cpu0 = servers.map((s) => cpuMs(s.pid));
    const db0 = mongo.serverPid ? cpuMs(mongo.serverPid) : 0;
    const loads = await Promise.all(
      servers.map((s, side) =>
        runNodeJson<MultiLoad>([
          'bench/load-multi.mjs',
          JSON.stringify({
            url: `${s.base}/api/submit`,
            connections: CONNECTIONS_PER_SERVER,
            duration: seconds,
            run,
            side,
            shareEvery: SHARE_EVERY,
            idsFile: path.join(tmp, `acked-${side}.txt`),
          }),
        ]),
      ),
    );
    const cpu = servers.reduce((sum, s, i) => sum + cpuMs(s.pid) - (cpu0[i] as number), 0);
    const db = mongo.serverPid ? cpuMs(mongo.serverPid) - db0 : undefined;

    // What was acknowledged, and what the database holds.
    const acked = new Set<string>();
    let ackedSharedTwice = 0;
    const perSide = [0, 1].map((side) =>
      fs
        .readFileSync(path.join(tmp, `acked-${side}.txt`), 'utf8')
        .split('\n')
        .filter(Boolean),
    );
    for (const ids of perSide) for (const id of ids) acked.add(id);
    const side0 = new Set(perSide[0]);
    for (const id of perSide[1] ?? []) if (side0.has(id)) ackedSharedTwice++;
    const client = new MongoClient(env.MONGO_URL as string);
    let stored: string[];
    try {
      const col = client.db(env.MONGO_DATABASE).collection(`${COLLECTION_PREFIX}bench`);
      const docs = await col.find({}, { projection: { _id: 0, event_id: 1 } }).toArray();
      stored = docs.map((d) => String(d.event_id));
    } finally {
      await client.close();
    }
    const storedSet = new Set(stored);
    const duplicates = stored.length - storedSet.size;
    let lost = 0;
    for (const id of acked) if (!storedSet.has(id)) lost++;
    const unacknowledgedStored = storedSet.size - (acked.size - lost);

    const events = loads.reduce((sum, l) => sum + l.acked, 0);
    const duration = Math.max(...loads.map((l) => l.seconds));
    const failed = loads.reduce((sum, l) => sum + l.non2xx + l.errors + l.timeouts, 0);
    ctx.print(
      table(
        [
          'case',
          'events/s (both)',
          'per server',
          'p50 / p99 ms (server 1)',
          'p50 / p99 ms (server 2)',
          'server CPU ms / 1k events',
          'database CPU ms / 1k events',
          'failed requests',
        ],
        [
          [
            `2 servers x ${CONNECTIONS_PER_SERVER} conns, single events, ${seconds} s`,
            fmt(events / duration),
            loads.map((l) => fmt(l.acked / l.seconds)).join(' + '),
            `${fmt(loads[0]?.p50 ?? 0, 1)} / ${fmt(loads[0]?.p99 ?? 0, 1)}`,
            `${fmt(loads[1]?.p50 ?? 0, 1)} / ${fmt(loads[1]?.p99 ?? 0, 1)}`,
            fmt((1000 * cpu) / Math.max(events, 1), 1),
            db === undefined ? '-' : fmt((1000 * db) / Math.max(events, 1), 1),
            failed,
          ],
        ],
      ),
    );
    ctx.print('');
    ctx.print(
      `- acknowledged: ${fmt(events)} answers, ${fmt(acked.size)} distinct event_ids ` +
        `(${fmt(ackedSharedTwice)} ids acknowledged by both servers)`,
    );
    ctx.print(
      `- stored: ${fmt(stored.length)} documents; acknowledged but missing: ${lost}; ` +
        `stored twice: ${duplicates}; stored but not acknowledged (answer cut at the end): ${unacknowledgedStored}`,
    );
    const ok = lost === 0 && duplicates === 0;
    ctx.print(`- every acknowledged event stored exactly once: ${ok ? 'yes' : 'NO'}`);
    ctx.results['multi.mongodb'] = {
      eventsPerSec: events / duration,
      perServer: loads.map((l) => l.acked / l.seconds),
      loads,
      acknowledgedDistinct: acked.size,
      ackedSharedTwice,
      stored: stored.length,
      lost,
      duplicates,
      unacknowledgedStored,
      cpuMsPer1k: (1000 * cpu) / Math.max(events, 1),
    };
    if (!ok) process.exitCode = 1;
  } finally {
    await Promise.all(servers.map((s) => s.stop(15_000)));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
};
