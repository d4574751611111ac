/** Helpers shared by the benchmarks: child processes, peak memory, machine description, tables. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { root as ROOT } from '../scripts/ferretdb.mjs';

/** Where a benchmark may write: each call of env() is a fresh, empty store. */
export interface StoreTarget {
  name: 'sqlite' | 'mongodb';
  env(): Record<string, string>;
  /** pid of a database server on this machine (FerretDB started by the bench), for its CPU time. */
  serverPid?: number;
}

export interface BenchContext {
  stores: StoreTarget[];
  /** Seconds per measured case. */
  seconds: number;
  /** When set, server processes run with --cpu-prof and write profiles here. */
  profileDir?: string;
  print(line?: string): void;
  /** Collected numbers, written as JSON with --json=<file>. */
  results: Record<string, unknown>;
  /** The older code to compare with (--baseline=<rev>), checked out for this run. */
  baseline?: { rev: string; root: string } | undefined;
  /** Another commit measured as "this code" (--code=<rev>; ingest only). */
  code?: { rev: string; root: string } | undefined;
}

export type Bench = (ctx: BenchContext) => Promise<void>;

/** One line of the read benchmark's results (bench/read.ts prints them as JSON). */
export interface ReadResult {
  store: string;
  what: string;
  events: number;
  seconds: number;
  eventsPerSec: number;
  peakRssMb: number;
  note?: string;
}

/** Runs `node <args>` in ROOT and parses the last stdout line as JSON. */
export function runNodeJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(last) as T);
      } catch (err) {
        reject(new Error(`node ${args.join(' ')} failed: ${(err as Error).message}\n${out}`));
      }
    });
  });
}

function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Peak resident memory (VmHWM) of a process and its descendants, in MB (Linux). */
export function peakRssMb(pid: number): number {
  let kb = 0;
  try {
    kb = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
  return kb / 1024 + childrenOf(pid).reduce((sum, c) => sum + peakRssMb(c), 0);
}

/** CPU time (user + system, all threads) used so far by a process and its descendants, in ms (Linux). */
export function cpuMs(pid: number): number {
  let ticks = 0;
  try {
    // Fields after the command name: state is field 3, utime 14, stime 15.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks = Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
  return ticks * 10 + childrenOf(pid).reduce((sum, c) => sum + cpuMs(c), 0); // USER_HZ = 100
}

export function machine(): string {
  const cpus = os.cpus();
  const gb = (os.totalmem() / 1024 ** 3).toFixed(1);
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${cpus[0]?.model ?? 'unknown CPU'} x ${cpus.length}, ${gb} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}, load average at start ${load}`;
}

/** A Markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
