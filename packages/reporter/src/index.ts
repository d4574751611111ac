/** @stats-server/reporter: player telemetry for stats-server, delivered reliably. */
export { attachDashjs, type DashjsPlayer } from './adapters/dashjs.ts';
export { attachHlsjs, type HlsjsPlayer } from './adapters/hlsjs.ts';
export type { AttachOptions, PlayerSample, Rendition } from './adapters/playback.ts';
export { attachShaka, type ShakaPlayer } from './adapters/shaka.ts';
export { attachVideoElement } from './adapters/video.ts';
export { ReporterOptionError } from './errors.ts';
export type { DropReason, ReporterEvent, ReporterOptions } from './options.ts';
export { createReporter, type Reporter, type ReporterStats } from './reporter.ts';
