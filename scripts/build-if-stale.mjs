#!/usr/bin/env node
// `npm start` runs this first: builds (npm run build) only when an output of the build is
// missing or older than a source, so a start with nothing changed is immediate.
import { spawnSync } from 'node:child_process';
import { ALL, isFresh, ROOT } from '../bin/freshness.js';

if (!isFresh(ALL)) {
  process.stderr.write('sources changed since the last build: npm run build\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
