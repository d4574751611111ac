#!/usr/bin/env node
// `npm start` runs this first (prestart): builds (npm run build) only when an output of the
// build is missing or older than a source, so a start with nothing changed is immediate.
// Stopping npm while it builds stops the build too.
import { spawn } from 'node:child_process';
import { ALL, isFresh, ROOT } from '../bin/freshness.js';

if (!isFresh(ALL)) {
  process.stderr.write('sources changed since the last build: npm run build\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const child = spawn(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit', detached: true });
  // The build is its own process group: a signal to us ends all of it (tsc, esbuild).
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      try {
        process.kill(-(child.pid ?? 0), sig);
      } catch {}
      process.exit(1);
    });
  }
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
}
