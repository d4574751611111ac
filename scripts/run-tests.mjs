#!/usr/bin/env node
// Runs the whole test suite with Node's test runner (TypeScript through tsx).
// It provides the test database: MONGO_URL when given (a real MongoDB), otherwise a FerretDB
// (SQLite backend) built once into .cache/bin and started on a free loopback port for this run.
// Under CI=true a missing database or browser fails the run instead of skipping tests.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CI = process.env.CI === 'true' || process.env.CI === '1';
const args = process.argv.slice(2);

function findTests(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findTests(p, out);
    else if (/\.test\.ts$/.test(e.name)) out.push(path.relative(root, p));
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
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

function ferretBinary() {
  const bin = process.env.FERRETDB_BIN || path.join(root, '.cache/bin/ferretdb');
  if (fs.existsSync(bin)) return bin;
  const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
  if (!hasGo) return undefined;
  console.log('# building FerretDB (test database) once into .cache/bin ...');
  const r = spawnSync('bash', [path.join(root, 'scripts/install-ferretdb.sh')], { stdio: 'inherit' });
  return r.status === 0 && fs.existsSync(bin) ? bin : undefined;
}

async function startFerret(bin) {
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
  if (!(await waitForPort(port, 15000))) throw new Error('FerretDB did not start within 15 s');
  return { url: `mongodb://127.0.0.1:${port}/`, stop: () => child.kill('SIGTERM'), dir };
}

const env = { ...process.env };
let ferret;
if (!env.MONGO_URL) {
  const bin = ferretBinary();
  if (bin) {
    ferret = await startFerret(bin);
    env.MONGO_URL = ferret.url;
    env.FERRETDB_BIN = bin;
    console.log(`# MongoDB tests: FerretDB at ${ferret.url}`);
  } else if (CI) {
    console.error(
      'CI=true but there is no test database: set MONGO_URL or install Go so FerretDB can be built',
    );
    process.exit(1);
  } else {
    env.STATS_TEST_NO_MONGO = 'MongoDB tests skipped: set MONGO_URL, or install Go so FerretDB can be built';
    console.log(`# ${env.STATS_TEST_NO_MONGO}`);
  }
} else {
  console.log('# MongoDB tests: using MONGO_URL');
}

const files =
  args.length > 0 ? args : [...findTests(path.join(root, 'test')), ...findTests(path.join(root, 'src'))];
const concurrency = env.TEST_CONCURRENCY || '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const code = await new Promise((r) => child.on('exit', (c, sig) => r(c ?? (sig ? 1 : 0))));
ferret?.stop();
if (ferret) fs.rmSync(ferret.dir, { recursive: true, force: true });
process.exit(code);
