/** The reporter without adapters (for measuring and for custom integrations). */
export { ReporterOptionError } from './errors.ts';
export type { DropReason, ReporterEvent, ReporterOptions } from './options.ts';
export { createReporter, type Reporter, type ReporterStats } from './reporter.ts';
