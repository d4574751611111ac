/**
 * The store's own ceiling, run as its own process by bench/ingest.ts: the benchmark's events
 * bulk-inserted straight through EventStore.insertMany (no HTTP, no validation), in groups of
 * config.ingest.maxBatchEvents with maxInflight writes in flight, as the group committer.
 * Configured by the same environment as the server; argument: seconds. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { loadConfig } from '../src/config/index.ts';
import { toEventDoc } from '../src/events/normalize.ts';
import type { EventDoc } from '../src/events/schema.ts';
import { createStore } from '../src/store/index.ts';
import { benchEvent } from './events.mjs';

const seconds = Number(process.argv[2] ?? 5);
const config = loadConfig();
const store = createStore(config);
await store.open();
const run = randomBytes(4).toString('hex');
const group = config.ingest.maxBatchEvents;
const inflight = config.ingest.maxInflight; // as GroupCommitter does
let n = 0;
let events = 0;
const latencies: number[] = [];

const docs = (): EventDoc[] => {
  const now = new Date();
  return Array.from({ length: group }, () => toEventDoc(benchEvent(run, n++), now));
};

// Warm up (collection, indexes, first pages) outside the measurement.
await store.insertMany(docs());
const cpu0 = process.cpuUsage();
const start = performance.now();
const until = start + seconds * 1000;
await Promise.all(
  Array.from({ length: inflight }, async () => {
    while (performance.now() < until) {
      const batch = docs();
      const t0 = performance.now();
      const r = await store.insertMany(batch);
      latencies.push(performance.now() - t0);
      events += r.inserted;
    }
  }),
);
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
await store.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
console.log(
  JSON.stringify({
    events,
    seconds: elapsed,
    eventsPerSec: events / elapsed,
    groupSize: group,
    p50: pct(50),
    p99: pct(99),
    peakRssKb: Number(hwm ?? 0),
    cpuMsPer1k: events > 0 ? (cpu.user + cpu.system) / events : 0,
  }),
);
