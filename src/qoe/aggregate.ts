/** Statistics over sessions: mean, median, p95 and n of each SessionQoe metric, nulls ignored. */

import { AGGREGATED_METRICS } from './schema.ts';
import { mean, quantile } from './stats.ts';
import type { AggregatedMetric, SessionQoe, Summary } from './types.ts';

/** Rounded to 6 decimals, so JSON shows 3.85 rather than 3.8499999999999996. */
function tidy(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1e6) / 1e6;
}

/** Mean, median and p95 (linear interpolation, as NumPy) of the values; n counts them. */
export function summarize(values: ReadonlyArray<number | null | undefined>): Summary {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return {
    mean: tidy(mean(xs)),
    median: tidy(quantile(xs, 0.5)),
    p95: tidy(quantile(xs, 0.95)),
    n: xs.length,
  };
}

/**
 * Every aggregated metric over the sessions. Booleans (fatal_error, exit_before_start) count
 * as 0/1, so their mean is the share of sessions.
 */
export function aggregate(sessions: readonly SessionQoe[]): Record<AggregatedMetric, Summary> {
  const out = {} as Record<AggregatedMetric, Summary>;
  for (const metric of AGGREGATED_METRICS) {
    out[metric] = summarize(
      sessions.map((s) => {
        const v = s[metric];
        return typeof v === 'boolean' ? (v ? 1 : 0) : v;
      }),
    );
  }
  return out;
}
