// docs/security.md and docs/ingest-limits.md against the config spec (src/config/spec*.ts):
// every default those pages' tables give is the one the code computes (in the open and the
// public profile, on SQLite and on MongoDB), and every HTTP and access setting is on the
// security page. Pure: reads files, starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { SPEC } from '../../src/config/spec.ts';
import { readSpec } from '../../src/config/vars.ts';
import { MAX_PARAM_LENGTH } from '../../src/http/limits.ts';

const read = (name: string) => fs.readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');
const PAGES = ['security.md', 'ingest-limits.md'];

/** The defaults the code computes for each variable, under every setting that moves them. */
const SETTINGS = [{}, { SECURITY_PROFILE: 'public' }, { STORAGE: 'mongodb' }];
const defaults = SETTINGS.map((env) => readSpec(SPEC, env).values);

/** A default as the docs write it in backticks. */
function written(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** Table rows whose first cell names a variable: [variable, default cell]. */
function rows(markdown: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`([A-Z][A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name && name in SPEC && cells[2] !== undefined) out.push([name, cells[2]]);
  }
  return out;
}

test('every default in the tables of security.md and ingest-limits.md is the code default', () => {
  let checked = 0;
  for (const page of PAGES) {
    for (const [name, cell] of rows(read(page))) {
      const expected = new Set(defaults.map((d) => written(d[name])).filter((v) => v !== undefined));
      if (expected.size === 0) continue;
      const given = new Set([...cell.matchAll(/`(-?\d+|true|false|on|off)`/g)].map((m) => m[1] ?? ''));
      const normal = new Set([...given].map((g) => (g === 'on' ? 'true' : g === 'off' ? 'false' : g)));
      assert.deepEqual(
        [...normal].sort(),
        [...expected].sort(),
        `${page}: ${name} says ${cell}; the code's defaults are ${[...expected].join(', ')}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 25, `only ${checked} defaults checked`);
});

test('every HTTP and access setting is described on the security page', () => {
  const security = read('security.md');
  const listed = new Set(rows(security).map(([n]) => n));
  for (const [name, v] of Object.entries(SPEC)) {
    if ((v.section === 'http' || v.section === 'access') && !v.deprecated) {
      assert.ok(listed.has(name), `${name} is not in a table of docs/security.md`);
    }
  }
});

test('the CMCD and ingest caps are on the ingest limits page', () => {
  const listed = new Set(rows(read('ingest-limits.md')).map(([n]) => n));
  for (const name of [
    'BODY_LIMIT',
    'INGEST_BATCH_BODY_LIMIT',
    'CMCD_MAX_REPORTS',
    'CMCD_REPORTS_PER_S_PER_CLIENT',
    'CMCD_REPORTS_PER_S_PER_SESSION',
    'INGEST_MAX_QUEUED_EVENTS',
  ]) {
    assert.ok(listed.has(name), `${name} is not in the table of docs/ingest-limits.md`);
  }
});

test('fixed limits the security page names are the code constants', () => {
  assert.match(read('security.md'), new RegExp(`up to ${MAX_PARAM_LENGTH} characters`));
});
