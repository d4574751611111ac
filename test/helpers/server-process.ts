/**
 * Starts the real server process (`node --import tsx src/cli.ts serve`) with an environment,
 * on a free loopback port (SERVER_PORT=0; the port is read from the "Server listening at"
 * log line). Used by the durability and multi-core tests and by the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitForPort } from '../../scripts/ferretdb.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  /** Log lines seen so far (JSON strings), for diagnostics. */
  logs: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Variables a test must not leak into a server it starts (they would pick a store). */
const STORE_VARS = ['STORAGE', 'MONGO_URL', 'MONGO_HOST', 'MONGO_DATABASE', 'DATA_DIR', 'WORKERS'];

export async function startServerProcess(
  env: Record<string, string>,
  opts: {
    nodeArgs?: string[];
    timeoutMs?: number;
    /** Wait for this many "Server listening" lines (one per cluster worker). */
    listening?: number;
    /** Listen on this port and wait for it to accept connections (for LOG_LEVEL below info). */
    port?: number;
  } = {},
): Promise<ServerProcess> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const v of STORE_VARS) delete base[v];
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/cli.ts', 'serve'],
    {
      cwd: ROOT,
      env: {
        ...base,
        SERVER_HOST: '127.0.0.1',
        SERVER_PORT: String(opts.port ?? 0),
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const wanted = opts.listening ?? 1;
  const port = await new Promise<number>((resolve, reject) => {
    let seen = 0;
    let found = 0;
    const timer = setTimeout(
      () =>
        reject(new Error(`server did not listen within ${opts.timeoutMs ?? 20000} ms:\n${logs.join('\n')}`)),
      opts.timeoutMs ?? 20000,
    );
    const onLine = (line: string) => {
      if (logs.length < 2000) logs.push(line);
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) {
        found = Number(m[1]);
        if (++seen >= wanted) {
          clearTimeout(timer);
          resolve(found);
        }
      }
    };
    if (opts.port) {
      const port = opts.port;
      void waitForPort(port, opts.timeoutMs ?? 20000).then((ok) => {
        if (!ok) return;
        clearTimeout(timer);
        resolve(port);
      });
    }
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
    readline.createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    pid: child.pid as number,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}
