/**
 * Waiting in tests on a shared, busy machine: deadlines that grow with the CPU load instead of
 * fixed seconds, and polls that fail with what they waited for and what they last saw.
 */
import os from 'node:os';

/**
 * How much slower this machine runs now than an idle one: the 1-minute load average per core
 * (at least 1, at most 10). TEST_TIME_SCALE overrides it (for example on a slow CI runner).
 * A trial on 2 cores at load 11-16 failed fixed 30-s deadlines that pass in 47 s alone.
 */
export function loadFactor(): number {
  const forced = Number(process.env.TEST_TIME_SCALE);
  if (Number.isFinite(forced) && forced > 0) return forced;
  const perCore = (os.loadavg()[0] ?? 0) / Math.max(1, os.availableParallelism());
  return Math.min(10, Math.max(1, perCore));
}

/** A deadline of `ms` on an idle machine, scaled by the load when the wait starts. */
export function scaled(ms: number): number {
  return Math.round(ms * loadFactor());
}

export interface WaitOptions<T> {
  /** What is awaited, for the failure message ("the second worker to listen"). */
  what: string;
  /** On an idle machine; scaled by loadFactor() at the start of the wait. */
  timeoutMs: number;
  intervalMs?: number;
  /** Describes the last value seen for the failure message (default: JSON). */
  show?: (last: T) => string;
}

/**
 * Polls `probe` until `done` holds for its value and returns that value; past the deadline it
 * rejects with "Timeout waiting for <what> after <ms> ms, got <last value>". A probe that
 * throws is retried; its last error is what the failure reports.
 */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  done: (v: T) => boolean,
  opts: WaitOptions<T>,
): Promise<T> {
  const limit = scaled(opts.timeoutMs);
  const until = Date.now() + limit;
  const show = opts.show ?? ((v: T) => JSON.stringify(v));
  let last: string;
  for (;;) {
    try {
      const v = await probe();
      if (done(v)) return v;
      last = show(v);
    } catch (err) {
      last = `an error: ${(err as Error).message}`;
    }
    if (Date.now() >= until) {
      throw new Error(`Timeout waiting for ${opts.what} after ${limit} ms, got ${last}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
