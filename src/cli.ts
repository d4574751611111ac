#!/usr/bin/env node
/** Command line: `stats-server serve` (default), `export`, `qoe`, `rebuild-summaries`. See docs/cli.md. */
import { VERSION } from './app.ts';
import { ConfigError, loadConfig } from './config/index.ts';

const USAGE = `Usage: stats-server [command] [options]

Commands:
  serve            Run the HTTP server (the default; configured by environment variables,
                   listed in the README; docs/cli.md)
  export <experiment_id> --format ndjson|json|csv|parquet --out FILE
                   Write one experiment's events to a file (same environment as serve)
  qoe <experiment_id> --format csv|json [--out FILE] [--warmup W]
                   Write the per-session QoE table of one experiment
  rebuild-summaries [experiment_id]
                   Recompute stored session keys and summaries from the events
                   (also the backfill of Flask-written MongoDB data; alias backfill-sessions)
  help             Show this help

Every command takes --help (-h) and --version (-v).
`;

const SERVE_USAGE = `Usage: stats-server serve

Runs the HTTP server until SIGINT or SIGTERM. Configured by environment variables only
(SERVER_PORT or PORT, SERVER_HOST, STORAGE, DATA_DIR, MONGO_URL, LOG_LEVEL, LOG_FORMAT, ...).

Options:
  -h, --help     this help
  -v, --version  the version
`;

/** The command was given --help or --version: print it and exit 0. */
function helpOrVersion(rest: string[], usage: string): boolean {
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage);
    return true;
  }
  if (rest.includes('--version') || rest.includes('-v')) {
    process.stdout.write(`stats-server ${VERSION}\n`);
    return true;
  }
  return false;
}

/** What a command failed at, for the one-line error message. */
let doing = 'failed to start';

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve': {
      if (helpOrVersion(rest, SERVE_USAGE)) return 0;
      if (rest.length > 0) {
        process.stderr.write(`serve takes no arguments (got ${rest.join(' ')})\n\n${SERVE_USAGE}`);
        return 2;
      }
      const { startProcess } = await import('./server.ts');
      await startProcess(loadConfig());
      return -1; // keep running
    }
    case 'export': {
      const { EXPORT_USAGE, exportCommand } = await import('./commands/export.ts');
      if (helpOrVersion(rest, EXPORT_USAGE)) return 0;
      doing = 'export failed';
      quietOnClosedStdout();
      removePartialOnSignal();
      return exportCommand(rest, () => loadConfig());
    }
    case 'qoe': {
      const { QOE_USAGE, qoeCommand } = await import('./commands/qoe.ts');
      if (helpOrVersion(rest, QOE_USAGE)) return 0;
      doing = 'qoe failed';
      quietOnClosedStdout();
      return qoeCommand(rest, () => loadConfig());
    }
    case 'rebuild-summaries':
    case 'backfill-sessions': {
      const { rebuildCommand } = await import('./commands/rebuild.ts');
      return rebuildCommand(rest, loadConfig());
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`stats-server ${VERSION}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

/** `export ... --out - | head` ends quietly: a reader that stops early is not an error. */
function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Ctrl-C or a kill during an export: exit through 'exit', which removes the partial file. */
function removePartialOnSignal(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: NodeJS.ErrnoException) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    if (err.code === 'EADDRINUSE') {
      process.stderr.write(
        `stats-server failed to start: ${err.message}; another process is using the port: ` +
          'stop it, or set SERVER_PORT (or PORT) to a free port\n',
      );
      process.exit(1);
    }
    process.stderr.write(`stats-server ${doing}: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  },
);
