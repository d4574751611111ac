// FerretDB (a MongoDB wire-compatible server on SQLite) as a throwaway database for the test
// runner and the benchmark: find or build the binary, start it on a free loopback port in a
// temp dir, stop and remove it. Shared by scripts/run-tests.mjs and bench/run.ts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/** Resolves true once 127.0.0.1:port accepts connections, false after `ms`. */
export async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The FerretDB binary (FERRETDB_BIN or .cache/bin/ferretdb), built once with Go if missing. */
export function ferretBinary() {
  const bin = process.env.FERRETDB_BIN || path.join(root, '.cache/bin/ferretdb');
  if (fs.existsSync(bin)) return bin;
  const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
  if (!hasGo) return undefined;
  console.log('# building FerretDB (test database) once into .cache/bin ...');
  const r = spawnSync('bash', [path.join(root, 'scripts/install-ferretdb.sh')], { stdio: 'inherit' });
  return r.status === 0 && fs.existsSync(bin) ? bin : undefined;
}

/** Starts FerretDB; resolves with its URL, pid and stop() (which also removes its files). */
export async function startFerret(bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-ferret-'));
  const port = await freePort();
  const child = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      `--state-dir=${dir}`,
      '--log-level=ERROR',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (!(await waitForPort(port, 15000))) {
    child.kill('SIGKILL');
    throw new Error('FerretDB did not start within 15 s');
  }
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    pid: child.pid,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
