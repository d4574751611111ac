/** The QoE metrics the views show, with labels, formats and how the CDF charts scale them. */
import type uPlot from 'uplot';
import type { QoeReply, SessionQoe } from './api.ts';
import { cdfData, cdfRows } from './cdf.ts';
import { type Chart, cdfChart, PALETTE } from './charts.ts';
import type { FooterRow } from './components.ts';
import { h } from './dom.ts';
import { toCsv } from './figure.ts';
import * as f from './format.ts';

export type NumericMetric =
  | 'startup_time_s'
  | 'stall_count'
  | 'stall_time_s'
  | 'rebuffering_ratio'
  | 'avg_bitrate_bps'
  | 'switch_count'
  | 'latency_avg_s'
  | 'latency_p95_s'
  | 'dropped_frames'
  | 'played_time_s';

export interface MetricDef {
  key: NumericMetric;
  label: string;
  short: string;
  format: (v: number | null | undefined) => string;
}

export const METRICS: MetricDef[] = [
  { key: 'startup_time_s', label: 'Startup time', short: 'Startup', format: f.seconds },
  { key: 'stall_count', label: 'Stalls', short: 'Stalls', format: f.count },
  { key: 'stall_time_s', label: 'Stall time', short: 'Stall time', format: f.seconds },
  { key: 'rebuffering_ratio', label: 'Rebuffering ratio', short: 'Rebuf.', format: f.percent },
  { key: 'avg_bitrate_bps', label: 'Average bitrate', short: 'Avg bitrate', format: f.mbps },
  { key: 'switch_count', label: 'Bitrate switches', short: 'Switches', format: f.count },
  { key: 'latency_avg_s', label: 'Live latency (mean)', short: 'Latency', format: f.seconds },
  { key: 'latency_p95_s', label: 'Live latency (p95)', short: 'Latency p95', format: f.seconds },
  { key: 'dropped_frames', label: 'Dropped frames', short: 'Dropped', format: f.count },
  { key: 'played_time_s', label: 'Played time', short: 'Played', format: f.seconds },
];

/** Whether a session has QoE figures at all: it started (stall counts are null only when not). */
export function hasFigures(s: SessionQoe): boolean {
  return s.stall_count !== null || s.startup_time_s !== null || (s.played_time_s ?? 0) > 0;
}

/** Every per-session figure as a distribution, with the unit the x axis shows. */
export const CDFS: Array<{
  key: NumericMetric;
  title: string;
  axis: string;
  scale: (v: number) => number;
  counts?: boolean;
}> = [
  { key: 'startup_time_s', title: 'Startup time', axis: 'startup time (s)', scale: (v) => v },
  { key: 'stall_count', title: 'Stall count', axis: 'stalls per session', scale: (v) => v, counts: true },
  { key: 'stall_time_s', title: 'Stall time', axis: 'total stall time (s)', scale: (v) => v },
  {
    key: 'rebuffering_ratio',
    title: 'Rebuffering ratio',
    axis: 'rebuffering ratio (%)',
    scale: (v) => v * 100,
  },
  {
    key: 'avg_bitrate_bps',
    title: 'Average bitrate',
    axis: 'average bitrate (Mbps)',
    scale: (v) => v / 1e6,
  },
  {
    key: 'switch_count',
    title: 'Bitrate switches',
    axis: 'switches per session',
    scale: (v) => v,
    counts: true,
  },
  { key: 'latency_avg_s', title: 'Live latency (mean)', axis: 'mean live latency (s)', scale: (v) => v },
  { key: 'latency_p95_s', title: 'Live latency (p95)', axis: 'p95 live latency (s)', scale: (v) => v },
  {
    key: 'dropped_frames',
    title: 'Dropped frames',
    axis: 'dropped frames per session',
    scale: (v) => v,
    counts: true,
  },
];

/** The aggregate rows (mean, median, p95) of a QoE reply, by metric key. */
export function aggregateRows(q: QoeReply): FooterRow[] {
  return (['mean', 'median', 'p95'] as const).map((stat) => {
    const cells: FooterRow['cells'] = Object.fromEntries(
      METRICS.map((m) => {
        const v = q.aggregate[m.key]?.[stat];
        return [m.key, { value: v ?? null, text: m.format(v) }];
      }),
    );
    if (stat === 'mean') cells.outcome = { value: null, text: outcomeShares(q) };
    return { label: stat, cells };
  });
}

/** Shares of failed and exited-before-start sessions (the aggregate means of those booleans). */
export function outcomeShares(q: QoeReply): string {
  const failed = q.aggregate.fatal_error?.mean;
  const exited = q.aggregate.exit_before_start?.mean;
  if (failed == null && exited == null) return '';
  const pct = (v: number | null | undefined) => (v == null ? f.DASH : `${Math.round(v * 100)} %`);
  return `${pct(failed)} failed, ${pct(exited)} no start`;
}

/** The grid of CDF charts; `set` draws one line per labelled group of sessions. */
export class CdfGrid {
  readonly el = h('div', { class: 'grid3 cdfs' });
  private readonly charts: Chart[];

  constructor() {
    this.charts = CDFS.map((c) => cdfChart(this.el, c.title, c.axis, c.counts));
  }

  set(groups: Array<{ label: string; sessions: SessionQoe[] }>): void {
    CDFS.forEach((c, i) => {
      const chart = this.charts[i];
      const values = groups.map((g) =>
        g.sessions
          .map((s) => s[c.key])
          .flatMap((v) => (typeof v === 'number' && Number.isFinite(v) ? [c.scale(v)] : [])),
      );
      const series = groups.map((g, j) => ({
        label: `${g.label} (n=${values[j]?.length ?? 0})`,
        color: PALETTE[j % PALETTE.length] ?? '#000',
        stepped: true,
      }));
      chart?.set(series, cdfData(values) as uPlot.AlignedData, undefined, 'no session has this figure');
      // The CSV holds the data only, to 1 ms, 1 kbps or 0.001 % of the unit shown (counts whole).
      if (chart)
        chart.csvText = () =>
          toCsv([[c.axis, ...series.map((s) => s.label)], ...cdfRows(values, c.counts ? 0 : 3)]);
    });
  }

  destroy(): void {
    for (const c of this.charts) c.destroy();
  }
}
