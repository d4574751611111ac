// Pure parts of the read side: Accept negotiation, paging cursors, CSV quoting and the
// session key rule. Starts nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CSV_HEADER, csvLines } from '../../src/export/columns.ts';
import { negotiateFormat } from '../../src/http/format.ts';
import { decodeCursor, encodeCursor, filterKey } from '../../src/query/cursor.ts';
import { parseCsv } from '../helpers/csv.ts';

test('format= wins; Accept is read by q-value; anything unknown is JSON', () => {
  assert.equal(negotiateFormat('csv', 'application/x-ndjson'), 'csv');
  assert.equal(negotiateFormat(undefined, undefined), 'json');
  assert.equal(negotiateFormat(undefined, 'application/x-ndjson'), 'ndjson');
  assert.equal(negotiateFormat(undefined, 'application/jsonl'), 'ndjson');
  assert.equal(negotiateFormat(undefined, 'text/csv;charset=utf-8'), 'csv');
  assert.equal(negotiateFormat(undefined, 'application/json;q=0.5, text/csv'), 'csv');
  assert.equal(negotiateFormat(undefined, 'text/csv;q=0.2, application/x-ndjson;q=0.8'), 'ndjson');
  assert.equal(negotiateFormat(undefined, 'text/csv;q=0, */*'), 'json');
  assert.equal(negotiateFormat(undefined, 'text/html,application/xhtml+xml,*/*;q=0.8'), 'json');
});

test('cursors round-trip and reject anything else', () => {
  const c = { timestamp: 1700000000.25, id: '65a1b2c3d4e5f60718293a4b', mark: '42', filters: filterKey({}) };
  assert.deepEqual(decodeCursor(encodeCursor(c)), c);
  assert.deepEqual(decodeCursor(encodeCursor({ ...c, mark: null })).mark, null);
  for (const bad of [
    'x',
    Buffer.from('[2,1,"a",null,"[]"]').toString('base64url'),
    Buffer.from('{}').toString('base64url'),
  ]) {
    assert.throws(() => decodeCursor(bad), { code: 'INVALID_CURSOR' });
  }
  assert.notEqual(filterKey({ eventType: 'a' }), filterKey({ session: 'a' }));
});

test('CSV quotes commas, quotes and newlines, and leaves nulls empty', () => {
  const text =
    CSV_HEADER +
    csvLines([
      {
        _id: 'i',
        experiment_id: 'e',
        timestamp: 1.5,
        event_type: 't',
        protocol: 'dash',
        video_id: 'a,b',
        payload: { s: 'say "hi"\nbye' },
        stored_at: '2024-01-01T00:00:00.000Z',
      },
    ]);
  const rows = parseCsv(text);
  assert.deepEqual(rows[1], [
    'i',
    'e',
    '1.5',
    't',
    'dash',
    'a,b',
    '',
    '',
    '',
    '2024-01-01T00:00:00.000Z',
    '{"s":"say \\"hi\\"\\nbye"}',
    '',
  ]);
});
