/**
 * What the test run provides (set up by scripts/run-tests.mjs). Under CI=true nothing may
 * skip for a missing tool: `skipUnlessAvailable` throws instead.
 */
export const CI = process.env.CI === 'true' || process.env.CI === '1';

/** The MongoDB-compatible server for this run, or undefined (with the reason in `mongoSkip`). */
export const MONGO_URL = process.env.MONGO_URL;
export const mongoSkip: string | false = MONGO_URL
  ? false
  : (process.env.STATS_TEST_NO_MONGO ?? 'MongoDB tests skipped: set MONGO_URL or run via `npm test`');

if (CI && !MONGO_URL) {
  throw new Error(
    'CI=true but MONGO_URL is not set: run the tests through `npm test` (scripts/run-tests.mjs)',
  );
}

/** A database name unique to this test process, so files can run in parallel. */
export function uniqueDbName(prefix = 'test'): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}
