/**
 * Reading numbers and strings out of untyped event payloads: every dialect sends numbers as
 * JSON numbers or numeric strings, and uses 0 or negatives for "unknown" in places.
 */

/** A finite number (numbers or numeric strings), else null. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A bitrate: 0 and negatives mean "unknown" (the testbed sends 0 before the first switch). */
export function rate(v: unknown): number | null {
  const n = num(v);
  return n !== null && n > 0 ? n : null;
}

/** A number that cannot be negative (levels, durations, counters), else null. */
export function nonNeg(v: unknown): number | null {
  const n = num(v);
  return n !== null && n >= 0 ? n : null;
}

/** A string, or a number as a string (error codes come as either), else null. */
export function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}
