/**
 * Runs the real server process (`src/cli.ts serve` through tsx) on a free loopback port, as a
 * user would, and waits until it answers /api/health. The benchmark starts its servers with it
 * too (extra node flags such as --cpu-prof, pid for memory and CPU readings).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { scaled, waitUntil } from './wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after graceMs (scaled by the load); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export async function startServerProcess(
  env: Record<string, string>,
  args = ['serve'],
  opts: {
    nodeArgs?: string[] /** Another checkout to run (the benchmark's baseline). */;
    root?: string;
    /** Run the built dist/cli.js (as `npm start` does) instead of the sources through tsx. */
    dist?: boolean;
  } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const root = opts.root ?? ROOT;
  const entry = opts.dist
    ? [path.join(root, 'dist/cli.js')]
    : ['--import', 'tsx', path.join(root, 'src/cli.ts')];
  const nodeArgs = [...(opts.nodeArgs ?? []), ...entry];
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const base = `http://127.0.0.1:${port}`;
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), scaled(graceMs));
    await exited;
    clearTimeout(t);
  };
  // Ready is "answers /api/health" (200, or 503 while its store is down); an exit ends the wait
  // at once. The deadline only catches a hang: it grows with the load, since starting means
  // compiling the sources (tsx) in every process, and a trial at load 11-16 on 2 cores needed
  // more than 30 s for WORKERS=2.
  const idleMs = 30_000;
  const limit = scaled(idleMs);
  const deadline = Date.now() + limit;
  let last = 'no answer yet';
  while (child.exitCode === null && child.signalCode === null) {
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.status === 200 || r.status === 503) {
        return { child, pid: child.pid as number, port, base, output: () => out, exited, stop };
      }
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message; // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `Timeout waiting for the server to answer /api/health after ${limit} ms, got ${last}:\n${out}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `server exited (${child.exitCode ?? child.signalCode}) before answering /api/health:\n${out}`,
  );
}

/** The JSON log lines the process printed so far. */
export const logLines = (server: ServerProcess): string[] =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'));

/**
 * Waits until `n` worker processes (WORKERS=n) log that they listen: health answers once the
 * first one does. Resolves with their pids.
 */
export async function waitForWorkers(server: ServerProcess, n: number): Promise<Set<number>> {
  const listening = () =>
    new Set(
      logLines(server)
        .filter((l) => l.includes('Server listening at'))
        .map((l) => JSON.parse(l).pid as number),
    );
  return waitUntil(listening, (pids) => pids.size >= n, {
    what: `${n} workers to listen`,
    timeoutMs: 30_000,
    show: (pids) => `${pids.size} listening; output:\n${server.output()}`,
  });
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}
