/** The warm-up trim: parsing the `warmup` parameter and placing the trim point in a session. */
import type { Warmup } from './types.ts';

export const NO_WARMUP: Warmup = Object.freeze({ mode: 'none' });

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses `warmup`: a number of seconds (>= 1, or 0 for none) or a fraction of each session's
 * duration (0 < f < 1). Throws RangeError with a message for the client on anything else.
 */
export function parseWarmup(value: string | number | null | undefined): Warmup {
  if (value === undefined || value === null || value === '') return NO_WARMUP;
  if (typeof value === 'string' && value.trim() === '') return NO_WARMUP;
  // Decimal only: Number() would read "0x10" as 16 s.
  if (typeof value === 'string' && !DECIMAL.test(value.trim())) {
    throw new RangeError(
      'warmup must be a number of seconds (>= 1) or a fraction of each session (0 < f < 1)',
    );
  }
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(
      'warmup must be a number of seconds (>= 1) or a fraction of each session (0 < f < 1)',
    );
  }
  if (n === 0) return NO_WARMUP;
  if (n < 1) return { mode: 'fraction', fraction: n };
  return { mode: 'seconds', seconds: n };
}

/** The trim point of a session that spans [start, end]: metrics use [trimPoint, end]. */
export function trimPoint(warmup: Warmup | undefined, start: number, end: number): number {
  if (!warmup || warmup.mode === 'none') return start;
  if (warmup.mode === 'seconds') return start + warmup.seconds;
  return start + warmup.fraction * Math.max(0, end - start);
}
