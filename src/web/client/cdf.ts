/** Empirical CDFs as uPlot columns (pure: no DOM, unit-tested in test/unit/web-cdf.test.ts). */

/** x values, then one y column per group (null where a group has no values at all). */
export type Columns = [number[], ...Array<Array<number | null>>];

/**
 * The empirical CDF of each group evaluated at every distinct value of all groups, with one
 * point before the smallest value (all at 0) and one after the largest (all at 1), so every
 * line visibly starts at 0 and reaches 1.
 */
export function cdfData(groups: number[][]): Columns {
  const sorted = groups.map((g) => g.filter((v) => Number.isFinite(v)).sort((a, b) => a - b));
  const values = [...new Set(sorted.flat())].sort((a, b) => a - b);
  if (values.length === 0) return [[], ...sorted.map(() => [])] as Columns;
  const lo = values[0] as number;
  const hi = values[values.length - 1] as number;
  const pad = (hi - lo) * 0.04 || Math.abs(lo) * 0.1 || 1;
  const xs = [lo - pad, ...values, hi + pad];
  const ys = sorted.map((g) => {
    const out: Array<number | null> = [];
    let i = 0;
    for (const x of xs) {
      while (i < g.length && (g[i] as number) <= x) i++;
      out.push(g.length ? i / g.length : null);
    }
    return out;
  });
  return [xs, ...ys] as Columns;
}

/**
 * The CDFs as CSV rows for a download: only the data (each distinct value, none of the padding
 * points cdfData adds for the plot), x rounded to `decimals` places of the unit shown and the
 * fractions to 4 places. Values equal once rounded share a row (the fraction at or below it).
 * A group without values has empty cells.
 */
export function cdfRows(groups: number[][], decimals: number): Array<Array<number | null>> {
  const round = (v: number, d: number) => Number(v.toFixed(d));
  const sorted = groups.map((g) =>
    g
      .filter((v) => Number.isFinite(v))
      .map((v) => round(v, decimals))
      .sort((a, b) => a - b),
  );
  const values = [...new Set(sorted.flat())].sort((a, b) => a - b);
  return values.map((x) => [
    x,
    ...sorted.map((g) => {
      if (!g.length) return null;
      let n = 0;
      while (n < g.length && (g[n] as number) <= x) n++;
      return round(n / g.length, 4);
    }),
  ]);
}
