// docs/api.md against the error catalogue (src/errors.ts): every code a client can get is in
// the errors table, on a row with its HTTP status. Reads files: starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/errors.ts';

const docs = fs.readFileSync(path.resolve(import.meta.dirname, '../docs/api.md'), 'utf8');

test('docs/api.md lists every error code with its status', () => {
  const rows = docs.split('\n').filter((l) => /^\| \d{3} /.test(l));
  assert.ok(rows.length > 0, 'docs/api.md has an errors table');
  for (const [code, status] of ERROR_CODES) {
    const row = rows.find((r) => r.includes(`\`${code}\``));
    assert.ok(row, `${code} is missing from the errors table of docs/api.md`);
    assert.ok(row.startsWith(`| ${status} `), `${code} is listed as ${row.slice(2, 5)}, not ${status}`);
  }
});
