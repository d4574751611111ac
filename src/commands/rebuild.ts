/**
 * `stats-server rebuild-summaries [experiment_id]`: re-derives every stored session key and
 * summary from the events, with the same store configuration as serve. It is also the
 * backfill for MongoDB collections written by the Flask server (documents without a session
 * key) and the repair after a crash on MongoDB, which has no transaction around an event
 * insert and its summary update.
 */
import fs from 'node:fs';
import type { Config } from '../config/index.ts';
import { experimentIdRe } from '../events/schema.ts';
import { createStore, storeLabel } from '../store/index.ts';

export const REBUILD_USAGE = `Usage: stats-server rebuild-summaries [experiment_id]

Recomputes the session of every stored event (runs of testbed sessions split again) and every
session summary, for one experiment or all, from the store the server is configured with (same
environment variables as serve). Safe to run while the server runs; the server answers from the
events meanwhile. Alias: backfill-sessions.
`;

export async function rebuildCommand(args: string[], config: Readonly<Config>): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(REBUILD_USAGE);
    return 0;
  }
  const [experimentId, ...more] = args;
  if (more.length > 0 || (experimentId !== undefined && !experimentIdRe.test(experimentId))) {
    process.stderr.write(`rebuild-summaries takes at most one valid experiment_id\n\n${REBUILD_USAGE}`);
    return 2;
  }
  const source = storeLabel(config);
  if (config.storage === 'sqlite' && !fs.existsSync(source)) {
    // Opening would create an empty database: a mistyped DATA_DIR must say so.
    process.stderr.write(`rebuild-summaries failed: no database at ${source} (set DATA_DIR)\n`);
    return 1;
  }
  const store = createStore(config);
  await store.open();
  try {
    const started = Date.now();
    const r = await store.rebuildSummaries(experimentId);
    process.stderr.write(
      `${source}: rebuilt ${r.sessions} sessions of ${r.experiments} experiment(s) from ${r.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
