/**
 * Whether built output is older than its sources (by file modification time): the one rule
 * behind `npm start` building only when needed and `npx stats-server` running from source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Newest mtime (ms) of the files under these paths (0 when none exist). */
function newest(paths) {
  let max = 0;
  const walk = (p) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p)) if (name !== 'node_modules') walk(path.join(p, name));
    } else max = Math.max(max, st.mtimeMs);
  };
  for (const p of paths) walk(path.join(ROOT, p));
  return max;
}

/** Oldest mtime (ms) of these output files; 0 when any is missing. */
function oldest(files) {
  let min = Number.POSITIVE_INFINITY;
  for (const f of files) {
    const st = fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false });
    if (!st) return 0;
    min = Math.min(min, st.mtimeMs);
  }
  return min;
}

/** Server sources and what `npm run build` makes of them. */
export const SERVER = { sources: ['src', 'tsconfig.json', 'tsconfig.build.json'], outputs: ['dist/cli.js'] };
/** Everything `npm run build` makes: server, reporter bundle, dashboard. */
export const ALL = {
  sources: [
    ...SERVER.sources,
    'packages/events/src',
    'packages/reporter/src',
    'packages/reporter/build.mjs',
    'package-lock.json',
  ],
  outputs: [...SERVER.outputs, 'packages/reporter/dist/reporter.js', 'dist/ui/index.html'],
};

/** True when every output exists and is at least as new as every source. */
export function isFresh({ sources, outputs }) {
  const built = oldest(outputs);
  return built > 0 && built >= newest(sources);
}
