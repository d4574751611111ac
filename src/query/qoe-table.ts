/**
 * The per-session QoE table: its columns, in API units (seconds, bits per second, ratios), and
 * how sessions are numbered as runs. One home for the API's `GET …/qoe?format=csv`, the CLI's
 * `stats-server qoe` and the dashboard's "Table as CSV" (the dashboard bundles this file, so it
 * is pure: no Node, no DOM).
 */
import { csvField } from '../export/columns.ts';
import type { SessionQoe } from '../qoe/types.ts';

/** The per-session figures, in the order of the table (and of the aggregate). */
export const QOE_FIGURES = [
  'startup_time_s',
  'stall_count',
  'stall_time_s',
  'rebuffering_ratio',
  'avg_bitrate_bps',
  'switch_count',
  'latency_avg_s',
  'latency_p95_s',
  'dropped_frames',
  'played_time_s',
] as const;

/** Every column of the table, in order. */
export const QOE_COLUMNS = [
  'session_id',
  'run',
  'started_unix_s',
  'protocol',
  'video_id',
  ...QOE_FIGURES,
  'fatal_error',
  'exit_before_start',
] as const;

export type QoeColumn = (typeof QOE_COLUMNS)[number];

/** A session's QoE with its place among the experiment's runs. */
export type QoeTableRow = SessionQoe & {
  /** 1 for the session whose first event is oldest, then in order of first event. */
  run: number;
  /** The session's first event, Unix seconds. */
  started_unix_s: number;
};

/**
 * Run numbers by first event (ties by session id), so "run 1..n" means the same in the API,
 * the CLI and the dashboard whatever order the store lists sessions in.
 */
export function runNumbers(
  sessions: ReadonlyArray<{ session_id: string; first_timestamp: number }>,
): Map<string, number> {
  const sorted = [...sessions].sort(
    (a, b) =>
      a.first_timestamp - b.first_timestamp ||
      (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0),
  );
  return new Map(sorted.map((s, i) => [s.session_id, i + 1]));
}

/** The table's cells of one row, in column order. */
export function qoeCells(row: QoeTableRow): Array<string | number | boolean | null> {
  return QOE_COLUMNS.map((c) => row[c] ?? null);
}

/**
 * The table as CSV (RFC 4180, CRLF, like every CSV of the server), header first, one line per
 * session in run order; ids that a spreadsheet would run as a formula get a leading '.
 */
export function qoeCsv(rows: readonly QoeTableRow[]): string {
  const sorted = [...rows].sort((a, b) => a.run - b.run);
  const cell = (v: string | number | boolean | null) => csvField(typeof v === 'boolean' ? String(v) : v);
  const lines = [QOE_COLUMNS.join(','), ...sorted.map((r) => qoeCells(r).map(cell).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
