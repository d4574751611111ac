/** Small statistics helpers shared by session metrics and aggregates. */

/**
 * The q-quantile (0..1) of numbers with linear interpolation between closest ranks: NumPy's
 * default `np.percentile` / pandas `Series.quantile` (Hyndman-Fan type 7), so researchers get
 * the same figure in pandas. Null for no values.
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
