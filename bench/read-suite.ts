/**
 * The read-side benchmark (bench/read.ts, a standalone script owned by the read side) as a
 * suite of `npm run bench`: run as a child process on the same stores (and the same FerretDB),
 * its progress lines passed through and its results printed as a table.
 */
import { spawn } from 'node:child_process';
import { root } from '../scripts/ferretdb.mjs';
import { type Bench, fmt, type ReadResult, table } from './lib.ts';

export function benchRead(opts: { events?: number; mongoUrl?: string }): Bench {
  return async (ctx) => {
    ctx.print('\n### Read and export\n');
    const stores = ctx.stores.map((s) => s.name).join(',');
    if (!stores) return;
    const args = ['--import', 'tsx', 'bench/read.ts', '--stores', stores];
    if (opts.events) args.push('--events', String(opts.events));
    const env = { ...process.env, ...(opts.mongoUrl ? { MONGO_URL: opts.mongoUrl } : {}) };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => process.stderr.write(c));
      child.on('exit', (code) =>
        code === 0 ? resolve(stdout) : reject(new Error(`bench/read.ts exited with ${code}`)),
      );
    });
    const { results } = JSON.parse(out.slice(out.indexOf('{'))) as { results: ReadResult[] };
    ctx.print(
      table(
        ['store', 'read', 'events', 'events/s', 'peak RSS MB', 'note'],
        results.map((r) => [
          r.store,
          r.what,
          fmt(r.events),
          fmt(r.eventsPerSec),
          fmt(r.peakRssMb),
          r.note ?? '',
        ]),
      ),
    );
    ctx.results.read = results;
  };
}
