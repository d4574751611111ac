// The ingest and read limits' settings (loadConfig only, nothing started): defaults as documented
// in docs/ingest-limits.md, and a bad value stops start-up naming the variable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

test('defaults: 256 KiB events, 1000 CMCD reports, timestamp check on, 16 MiB read pages', () => {
  const c = loadConfig({});
  assert.equal(c.ingest.maxEventBytes, 256 * 1024);
  assert.equal(c.ingest.cmcdMaxReports, 1000);
  assert.deepEqual(c.timestamps, { check: true, min: 946_684_800, maxFutureS: 86_400 });
  assert.equal(c.readPageMaxBytes, 16 * 1024 * 1024);
});

test('the settings are read', () => {
  const c = loadConfig({
    INGEST_MAX_EVENT_BYTES: '4096',
    CMCD_MAX_REPORTS: '10',
    TIMESTAMP_CHECK: 'off',
    TIMESTAMP_MIN: '0',
    TIMESTAMP_MAX_FUTURE_S: '60',
    READ_PAGE_MAX_BYTES: '65536',
  });
  assert.equal(c.ingest.maxEventBytes, 4096);
  assert.equal(c.ingest.cmcdMaxReports, 10);
  assert.deepEqual(c.timestamps, { check: false, min: 0, maxFutureS: 60 });
  assert.equal(c.readPageMaxBytes, 65536);
});

test('an unset CMCD_MAX_REPORTS follows a smaller INGEST_MAX_QUEUED_EVENTS; a set one may not exceed it', () => {
  assert.equal(
    loadConfig({ INGEST_MAX_QUEUED_EVENTS: '500', INGEST_BATCH_MAX_EVENTS: '500' }).ingest.cmcdMaxReports,
    500,
  );
  assert.throws(
    () =>
      loadConfig({
        INGEST_MAX_QUEUED_EVENTS: '500',
        INGEST_BATCH_MAX_EVENTS: '500',
        CMCD_MAX_REPORTS: '501',
      }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'CMCD_MAX_REPORTS',
  );
});

test('bad values name their variable', () => {
  for (const [name, value] of [
    ['INGEST_MAX_EVENT_BYTES', '5000000'],
    ['INGEST_MAX_EVENT_BYTES', '256k'],
    ['CMCD_MAX_REPORTS', '0'],
    ['TIMESTAMP_CHECK', 'maybe'],
    ['TIMESTAMP_MIN', '-1'],
    ['TIMESTAMP_MAX_FUTURE_S', '1.5'],
    ['READ_PAGE_MAX_BYTES', '100'],
  ]) {
    assert.throws(
      () => loadConfig({ [name as string]: value }),
      (e: unknown) => e instanceof ConfigError && e.variable === name,
      `${name}=${value}`,
    );
  }
});
