#!/usr/bin/env node
/**
 * The `stats-server` command (package.json "bin"). Runs the build (dist/cli.js) when it is
 * at least as new as the sources; otherwise the TypeScript sources through tsx (a dev
 * dependency), so that `npx stats-server ...` works right after `npm ci`, before any build.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isFresh, ROOT, SERVER } from './freshness.js';

if (isFresh(SERVER)) {
  await import(pathToFileURL(path.join(ROOT, 'dist/cli.js')).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'stats-server: dist/ is missing or older than src/, and tsx (a dev dependency) is not installed: ' +
        'run `npm ci` then `npm run build`\n',
    );
    process.exit(1);
  }
  register();
  await import(pathToFileURL(path.join(ROOT, 'src/cli.ts')).href);
}
