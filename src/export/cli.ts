/** `stats-server export <experiment_id> --format ndjson|csv|parquet --out FILE`, from the serve config. */
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { experimentIdRe } from '../events/schema.ts';
import { createStore } from '../store/index.ts';
import { EXPORT_FORMATS, type ExportFormat, exportExperiment } from './export.ts';

export const EXPORT_USAGE = `Usage: stats-server export <experiment_id> --format ndjson|csv|parquet --out FILE

Writes one experiment's events, sorted by timestamp, from the store the server is configured
with (same environment variables as serve). --out - writes NDJSON or CSV to stdout.
`;

/** Runs the export command; resolves with the process exit code. */
export async function exportCommand(args: string[], config: Readonly<Config>): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${EXPORT_USAGE}`);
    return 2;
  }
  const { experimentId, format, out } = parsed;
  const store = createStore(config);
  await store.open();
  try {
    const started = Date.now();
    const n = await exportExperiment(store, { experimentId, format, out });
    const secs = (Date.now() - started) / 1000;
    if (n === 0) process.stderr.write(`warning: experiment "${experimentId}" has no events\n`);
    process.stderr.write(
      `exported ${n} events of ${experimentId} as ${format} to ${out} in ${secs.toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

function parse(args: string[]): { experimentId: string; format: ExportFormat; out: string } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' } },
  });
  const [experimentId, ...more] = positionals;
  if (!experimentId || more.length > 0) throw new Error('export takes exactly one experiment_id');
  if (!experimentIdRe.test(experimentId)) throw new Error(`"${experimentId}" is not a valid experiment_id`);
  const format = values.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format)) throw new Error('--format must be ndjson, csv or parquet');
  if (!values.out) throw new Error('--out FILE is required');
  if (values.out === '-' && format === 'parquet') throw new Error('Parquet needs a file: --out FILE');
  return { experimentId, format, out: values.out };
}
