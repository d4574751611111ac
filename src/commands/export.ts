/** `stats-server export <experiment_id> --format ... --out FILE`, from the serve config. */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.ts';
import { experimentIdRe } from '../events/schema.ts';
import { EXPORT_FORMATS, type ExportFormat, exportExperiment } from '../export/export.ts';
import { createStore, storeLabel } from '../store/index.ts';

export const EXPORT_USAGE = `Usage: stats-server export <experiment_id> --format FORMAT --out FILE

Writes one experiment's events, sorted by timestamp, from the store the server is configured
with (same environment variables as serve: STORAGE, DATA_DIR, MONGO_URL, ...).

Options:
  -f, --format FORMAT  ndjson  one event per line, as GET /api/metrics?format=ndjson
                       json    one JSON array of events (what the testbed runner's
                               stats/metrics.json holds; _id as a string)
                       csv     fixed columns, payload as JSON text
                       parquet the CSV columns typed, plus typed payload.<key> columns
  -o, --out FILE       file to write; - writes to stdout (not parquet)
      --csv-raw        CSV cells exactly as stored (default: text that a spreadsheet would
                       run as a formula, starting with = + - @ tab or CR, gets a leading ')
  -h, --help           this help
  -v, --version        the version

Exit status: 0 written; 1 export failed (no database, unknown experiment, write error);
2 bad usage. The file appears only when complete (no partial file is left on failure).
`;

export interface ExportArgs {
  experimentId: string;
  format: ExportFormat;
  out: string;
  csvRaw: boolean;
}

/** A failure of the export itself (not of usage): reported as "export failed: ...", exit 1. */
export class ExportError extends Error {}

/** Runs the export command; resolves with the process exit code. */
export async function exportCommand(args: string[], loadConfig: () => Readonly<Config>): Promise<number> {
  let parsed: ExportArgs;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${EXPORT_USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const { experimentId, format, out, csvRaw } = parsed;
  const source = storeLabel(config);
  if (config.storage === 'sqlite' && !fs.existsSync(source)) {
    // Opening would create an empty database: a mistyped DATA_DIR must not look like no data.
    throw new ExportError(`no database at ${source} (set DATA_DIR to the server's data directory)`);
  }
  if (out !== '-') {
    const dir = path.dirname(path.resolve(out));
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new ExportError(`cannot write ${out}: directory ${dir} does not exist`);
    }
  }
  const store = createStore(config);
  await store.open();
  try {
    const known = (await store.listExperiments()).map((e) => e.experiment_id);
    if (!known.includes(experimentId)) {
      const some = known.slice(0, 10).join(', ') + (known.length > 10 ? ', ...' : '');
      throw new ExportError(
        `experiment "${experimentId}" has no events in ${source}` +
          (known.length > 0 ? ` (it has: ${some})` : ' (it has no experiments)'),
      );
    }
    process.stderr.write(`exporting ${experimentId} from ${source}\n`);
    const progress = progressLine();
    const started = Date.now();
    let n: number;
    try {
      n = await exportExperiment(store, {
        experimentId,
        format,
        out,
        raw: csvRaw,
        onProgress: progress.update,
      });
    } finally {
      progress.done();
    }
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(
      `exported ${n} events of ${experimentId} as ${format} to ${out === '-' ? 'stdout' : out} in ${secs.toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

/** A once-a-second "N events" line on stderr, only when stderr is a terminal. */
function progressLine(): { update: (n: number) => void; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  const started = Date.now();
  let last = started;
  let shown = false;
  return {
    update(n) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      shown = true;
      const rate = Math.round(n / ((now - started) / 1000));
      process.stderr.write(`\r${n} events (${rate}/s)...`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

function parse(args: string[]): ExportArgs {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      'csv-raw': { type: 'boolean' },
    },
  });
  const [experimentId, ...more] = positionals;
  if (!experimentId || more.length > 0) throw new Error('export takes exactly one experiment_id');
  if (!experimentIdRe.test(experimentId)) throw new Error(`"${experimentId}" is not a valid experiment_id`);
  const format = values.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format)) {
    throw new Error(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  }
  if (!values.out) throw new Error('--out FILE is required (- for stdout)');
  if (values.out === '-' && format === 'parquet') throw new Error('Parquet needs a file: --out FILE');
  if (values['csv-raw'] && format !== 'csv') throw new Error('--csv-raw applies to --format csv only');
  return { experimentId, format, out: values.out, csvRaw: values['csv-raw'] === true };
}
