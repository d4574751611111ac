#!/usr/bin/env node
// Builds the reporter: dist/reporter.mjs (ESM), dist/reporter.js (classic script, global
// StatsReporter), dist/types (declarations). `--sizes` also prints min+gzip sizes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const { version } = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  minify: true,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  banner: { js: `/* @stats-server/reporter ${version} | MIT */` },
  logLevel: 'warning',
};

fs.mkdirSync(dist, { recursive: true });
await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: [path.join(here, 'src/index.ts')],
    format: 'esm',
    outfile: path.join(dist, 'reporter.mjs'),
  }),
  esbuild.build({
    ...common,
    entryPoints: [path.join(here, 'src/index.ts')],
    format: 'iife',
    globalName: 'StatsReporter',
    outfile: path.join(dist, 'reporter.js'),
  }),
]);

if (!process.argv.includes('--no-types')) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(here, 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (process.argv.includes('--sizes')) {
  const core = await esbuild.build({
    ...common,
    entryPoints: [path.join(here, 'src/core.ts')],
    format: 'esm',
    write: false,
  });
  const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
  const coreOut = core.outputFiles?.[0];
  if (!coreOut) throw new Error('esbuild wrote no core bundle');
  /** @type {Array<[string, Uint8Array]>} */
  const rows = [
    ['core (createReporter only, ESM)', coreOut.contents],
    ['reporter.mjs (core + 4 adapters)', fs.readFileSync(path.join(dist, 'reporter.mjs'))],
    ['reporter.js (IIFE, core + 4 adapters)', fs.readFileSync(path.join(dist, 'reporter.js'))],
  ];
  for (const [name, buf] of rows) console.log(`${name}: ${buf.length} B min, ${gz(buf)} B min+gzip`);
}
