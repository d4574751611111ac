/**
 * `stats-server qoe <experiment_id> --format csv|json --out FILE`: the per-session QoE table of
 * one experiment, from the store the server is configured with. The same table as
 * `GET /api/experiments/:id/qoe` (JSON) and `?format=csv`, and the dashboard's "Table as CSV".
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.ts';
import { experimentIdRe } from '../events/schema.ts';
import { parseWarmup } from '../qoe/warmup.ts';
import { experimentQoe, QoeNotFound } from '../query/experiment-qoe.ts';
import { qoeCsv } from '../query/qoe-table.ts';
import { SessionQoeService } from '../session-qoe/service.ts';
import { createStore, storeLabel } from '../store/index.ts';

export const QOE_USAGE = `Usage: stats-server qoe <experiment_id> --format csv|json [--out FILE] [--warmup W]

Writes the QoE of every session of one experiment (one row per session, runs numbered by first
event), from the store the server is configured with (same environment variables as serve).
The same table as GET /api/experiments/<id>/qoe and the dashboard's "Table as CSV".

Options:
  -f, --format FORMAT  csv   header, then one row per session (API units: s, bit/s, ratio)
                       json  the API's reply: sessions (the same columns, plus stall and
                             switch lists) and the aggregate (mean, median, p95, n)
  -o, --out FILE       file to write (default: - for stdout)
  -w, --warmup W       trim each session's start: seconds (30) or a fraction (0.2)
  -h, --help           this help

Exit status: 0 written; 1 failed (no database, unknown experiment, write error); 2 bad usage.
`;

interface QoeArgs {
  experimentId: string;
  format: 'csv' | 'json';
  out: string;
  warmup: string | undefined;
}

/** Runs the command; resolves with the exit status. */
export async function qoeCommand(args: string[], loadConfig: () => Readonly<Config>): Promise<number> {
  let a: QoeArgs;
  try {
    a = parse(args);
    parseWarmup(a.warmup);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${QOE_USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const source = storeLabel(config);
  const fail = (why: string) => {
    process.stderr.write(`qoe failed: ${why}\n`);
    return 1;
  };
  if (config.storage === 'sqlite' && !fs.existsSync(source)) {
    // Opening would create an empty database: a mistyped DATA_DIR must not look like no data.
    return fail(`no database at ${source} (set DATA_DIR to the server's data directory)`);
  }
  if (
    a.out !== '-' &&
    !fs.statSync(path.dirname(path.resolve(a.out)), { throwIfNoEntry: false })?.isDirectory()
  ) {
    return fail(`cannot write ${a.out}: directory ${path.dirname(path.resolve(a.out))} does not exist`);
  }
  const store = createStore(config);
  await store.open();
  try {
    let text: string;
    try {
      const table = await experimentQoe(
        store,
        new SessionQoeService(store),
        a.experimentId,
        parseWarmup(a.warmup),
      );
      text = a.format === 'csv' ? qoeCsv(table.sessions) : `${JSON.stringify(table, null, 2)}\n`;
    } catch (err) {
      if (!(err instanceof QoeNotFound)) throw err;
      const known = (await store.listExperiments()).map((e) => e.experiment_id);
      const some = known.slice(0, 10).join(', ') + (known.length > 10 ? ', ...' : '');
      return fail(
        `experiment "${a.experimentId}" has no sessions in ${source}` +
          (known.length ? ` (it has: ${some})` : ' (it has no experiments)'),
      );
    }
    if (a.out === '-') {
      process.stdout.write(text);
      return 0;
    }
    // Complete or absent: written beside the target, then renamed over it.
    const tmp = `${a.out}.partial-${process.pid}`;
    try {
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, a.out);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      return fail(`cannot write ${a.out}: ${(err as Error).message}`);
    }
    const rows = text.split('\n').length;
    process.stderr.write(
      `wrote the QoE of ${a.experimentId} from ${source} as ${a.format} to ${a.out}` +
        (a.format === 'csv' ? ` (${rows - 2} sessions)\n` : '\n'),
    );
    return 0;
  } finally {
    await store.close();
  }
}

function parse(args: string[]): QoeArgs {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string', short: 'f' },
      out: { type: 'string', short: 'o' },
      warmup: { type: 'string', short: 'w' },
    },
  });
  const [experimentId, ...more] = positionals;
  if (!experimentId || more.length > 0) throw new Error('qoe takes exactly one experiment_id');
  if (!experimentIdRe.test(experimentId)) throw new Error(`"${experimentId}" is not a valid experiment_id`);
  if (values.format !== 'csv' && values.format !== 'json')
    throw new Error('--format must be one of csv, json');
  return { experimentId, format: values.format, out: values.out ?? '-', warmup: values.warmup };
}
