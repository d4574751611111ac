/**
 * The effective playback rate the session and overlay charts draw: the rate the player reports
 * for its media element (it stays 1 while the element waits for data), forced to 0 during the
 * session's stalls, so a stall reads as "halted" on the rate chart too. Pure (unit-tested in
 * test/unit/web-rate.test.ts).
 */

type Point = [number, number | null];

/**
 * `points`: the reported rate as [t, rate] (a value holds until the next), oldest first;
 * `stalls`: [from, to] on the same time axis. Returns the points with every stall as 0: a 0 at
 * its start, the reported rate again at its end, and reports inside it dropped. Nothing when
 * nothing reports a rate (the chart then says so).
 */
export function effectiveRate(points: readonly Point[], stalls: ReadonlyArray<[number, number]>): Point[] {
  if (points.length === 0 || stalls.length === 0) return [...points];
  const ordered = [...stalls].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const inStall = (t: number) => ordered.some(([a, b]) => t >= a && t < b);
  /** The reported rate holding at t (the last report at or before it). */
  const rateAt = (t: number): number | null => {
    let v: number | null = null;
    for (const [x, y] of points) {
      if (x > t) break;
      if (y != null) v = y;
    }
    return v;
  };
  const out: Point[] = points.filter(([t]) => !inStall(t));
  for (const [a, b] of ordered) {
    out.push([a, 0]);
    // Back to the reported rate, unless another stall starts right there.
    if (!inStall(b)) out.push([b, rateAt(b)]);
  }
  return out.sort((x, y) => x[0] - y[0] || (x[1] === 0 ? -1 : 1));
}
