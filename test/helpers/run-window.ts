/**
 * The window of a base's stored points a store reads around t for the run split
 * (src/sessions/runs.ts windowCovers): WINDOW_BEFORE groups before t and WINDOW_AFTER after it
 * (or all), with the timestamp of the group before the window. For the pure tests' in-memory
 * stores.
 */
import {
  groupsOf,
  type RunPoint,
  type RunWindow,
  WINDOW_AFTER,
  WINDOW_BEFORE,
} from '../../src/sessions/runs.ts';

export function storedWindow(stored: readonly RunPoint[], t: number): RunWindow {
  const groups = groupsOf(stored);
  let i = groups.findIndex((g) => g.t >= t);
  if (i < 0) i = groups.length;
  const j = i < groups.length && groups[i]?.t === t ? i + 1 : i;
  const lo = Math.max(0, i - WINDOW_BEFORE);
  const hi = Math.min(groups.length, j + WINDOW_AFTER);
  return {
    prevT: lo === 0 ? null : (groups[lo - 1]?.t ?? null),
    groups: groups.slice(lo, hi),
    toEnd: hi === groups.length,
  };
}
