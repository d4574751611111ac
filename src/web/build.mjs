#!/usr/bin/env node
// Builds the dashboard: bundles src/web/client/main.ts (with uPlot) and the CSS (uPlot's and
// ours) with esbuild into dist/ui/ (or the directory given as the first argument), and writes
// index.html pointing at them. Run by `npm run build:web` (part of `npm run build`).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const outdir = path.resolve(process.argv[2] ?? path.join(root, 'dist/ui'));

/** Bundles everything into outdir; returns the files written. */
export async function buildWeb(dir = outdir) {
  fs.mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(here, 'client/main.ts'), style: path.join(here, 'client/style.css') },
    bundle: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    outdir: dir,
    write: true,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'linked',
  });
  // Cache-bust the assets by content so a rebuilt dashboard is never mixed with a stale one.
  const hash = (f) =>
    crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(dir, f)))
      .digest('hex')
      .slice(0, 10);
  const html = fs
    .readFileSync(path.join(here, 'index.html'), 'utf8')
    .replace('{{app.js}}', `/ui/app.js?v=${hash('app.js')}`)
    .replace('{{style.css}}', `/ui/style.css?v=${hash('style.css')}`);
  fs.writeFileSync(path.join(dir, 'index.html'), html);
  return [...Object.keys(result.metafile.outputs).map((f) => path.basename(f)), 'index.html'];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await buildWeb();
  console.log(`dashboard built into ${path.relative(process.cwd(), outdir) || '.'}: ${files.join(', ')}`);
}
