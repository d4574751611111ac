#!/usr/bin/env node
// Runs the whole test suite with Node's test runner (TypeScript through tsx).
// It provides the test database: MONGO_URL when given (a real MongoDB), otherwise a FerretDB
// (SQLite backend) built once into .cache/bin and started on a free loopback port for this run.
// Under CI=true a missing database or browser fails the run instead of skipping tests.
//
//   node scripts/run-tests.mjs [--no-e2e] [--node=/path/to/node] [test files...]
//
// --no-e2e (or TEST_NO_E2E=1) leaves out the real-browser tests (test/e2e), which need Chromium
// and ffmpeg; --node (or TEST_NODE) runs the tests, and every server they start, on that Node
// binary (.ci/run checks each supported Node version this way).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ferretBinary, root, startFerret } from './ferretdb.mjs';

const CI = process.env.CI === 'true' || process.env.CI === '1';
const argv = process.argv.slice(2);
const noE2e = argv.includes('--no-e2e') || ['1', 'true'].includes(process.env.TEST_NO_E2E ?? '');
const nodeBin = argv.find((a) => a.startsWith('--node='))?.slice('--node='.length) || process.env.TEST_NODE;
const args = argv.filter((a) => a !== '--no-e2e' && !a.startsWith('--node='));
const E2E = `test${path.sep}e2e${path.sep}`;

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

const files = (
  args.length > 0 ? args : [...findTests(path.join(root, 'test')), ...findTests(path.join(root, 'src'))]
).filter((f) => !(noE2e && path.normalize(f).startsWith(E2E)));
const node = nodeBin ? path.resolve(nodeBin) : process.execPath;
if (nodeBin) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    console.error(`--node=${nodeBin}: cannot run it`);
    process.exit(1);
  }
  console.log(`# Node ${version.stdout.trim()} (${node})`);
}
if (noE2e) console.log('# browser tests (test/e2e) left out');
const concurrency = env.TEST_CONCURRENCY || '2';
const child = spawn(
  node,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const code = await new Promise((r) => child.on('exit', (c, sig) => r(c ?? (sig ? 1 : 0))));
await ferret?.stop();
process.exit(code);
