#!/usr/bin/env node
/** Command line: `stats-server serve` (default), `stats-server export ...`. */
import { ConfigError, loadConfig } from './config.ts';
import { startProcess } from './server.ts';

const USAGE = `Usage: stats-server <command>

Commands:
  serve            Run the HTTP server (configured by environment variables; see README)
  export <experiment_id> --format ndjson|csv|parquet --out FILE
                   Write one experiment's events to a file (same environment as serve)
  rebuild-summaries [experiment_id]
                   Recompute stored session keys and summaries from the events
                   (also the backfill of Flask-written MongoDB data; alias backfill-sessions)
  help             Show this help
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve': {
      await startProcess(loadConfig());
      return -1; // keep running
    }
    case 'export': {
      const { exportCommand } = await import('./export/cli.ts');
      return exportCommand(rest, loadConfig());
    }
    case 'rebuild-summaries':
    case 'backfill-sessions': {
      const { rebuildCommand } = await import('./sessions/cli.ts');
      return rebuildCommand(rest, loadConfig());
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`stats-server failed to start: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  },
);
