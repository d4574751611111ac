/** The per-session time series the dashboard draws, how each is drawn, and its display unit. */
import type { SeriesMetric } from './api.ts';

export interface SeriesDef {
  metric: SeriesMetric;
  title: string;
  label: string;
  color: string;
  /** The y axis label (the display unit). */
  unit: string;
  stepped?: boolean;
  dots?: boolean;
  rungs?: boolean;
  yMinTop?: number;
}

/**
 * Values that hold until the next report (rendition, a throughput measurement, the playback
 * rate) are steps; sampled levels (buffer, latency) are lines with their samples dotted where
 * they are sparse, so a 5-s sampling does not pass for a smooth curve.
 */
export const SERIES: SeriesDef[] = [
  {
    metric: 'bitrate',
    title: 'Video bitrate',
    label: 'bitrate',
    color: '#1f77b4',
    unit: 'Mbps',
    stepped: true,
    rungs: true,
  },
  { metric: 'buffer', title: 'Buffer level', label: 'buffer', color: '#2ca02c', unit: 's', dots: true },
  { metric: 'latency', title: 'Live latency', label: 'latency', color: '#9467bd', unit: 's', dots: true },
  {
    metric: 'throughput',
    title: 'Throughput',
    label: 'throughput',
    color: '#ff7f0e',
    unit: 'Mbps',
    stepped: true,
  },
  {
    metric: 'playback_rate',
    title: 'Playback rate',
    label: 'playback rate',
    color: '#8c564b',
    unit: '× real time',
    stepped: true,
    yMinTop: 1.2,
  },
];

/** Display unit for an API unit: bit rates in Mbps, the rest as sent. */
export function displayUnit(unit: string): { label: string; scale: number } {
  const u = unit.toLowerCase();
  if (u === 'bps' || u === 'bit/s') return { label: 'Mbps', scale: 1e-6 };
  if (u === 'kbps') return { label: 'Mbps', scale: 1e-3 };
  if (u === 'x') return { label: '× real time', scale: 1 };
  return { label: unit || 'value', scale: 1 };
}
