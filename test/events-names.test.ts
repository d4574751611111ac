// The one list of event names (src/events/names.ts) against its readers: docs/events.md must
// list exactly these event types, every QoE dialect rule must key on one of them, and the
// reporter SDK must name no event type outside it. Reads files: starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CMCD_EVENT_PREFIX, PLAYER_EVENT_TYPES } from '../src/events/names.ts';
import { SIGNAL_RULES } from '../src/qoe/index.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const docs = fs.readFileSync(path.join(ROOT, 'docs/events.md'), 'utf8');

/** The backticked names in the first column of the markdown table under `heading`. */
function firstColumn(heading: string): string[] {
  const start = docs.indexOf(heading);
  assert.ok(start >= 0, `docs/events.md has a "${heading}" section`);
  const lines = docs.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  const rows = lines.slice(first, end);
  const table: string[] = [];
  for (const row of rows.slice(2)) {
    const cell = row.split('|')[1]!.trim();
    table.push(...[...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  }
  return table;
}

test('docs/events.md lists exactly the event types of src/events/names.ts, in order', () => {
  const documented = firstColumn('## Events');
  assert.deepEqual(documented, [...PLAYER_EVENT_TYPES, `${CMCD_EVENT_PREFIX}<e>`]);
});

test("the reporter adapters' mapping table names only listed event types", () => {
  const mapped = firstColumn("## How the reporter's adapters map player events");
  assert.ok(mapped.length > 0);
  for (const name of mapped) assert.ok(PLAYER_EVENT_TYPES.includes(name as never), name);
});

test('every QoE dialect rule keys on a listed event type or the CMCD family', () => {
  for (const rule of SIGNAL_RULES) {
    const ok =
      PLAYER_EVENT_TYPES.includes(rule.eventType as never) || rule.eventType === `${CMCD_EVENT_PREFIX}*`;
    assert.ok(ok, `${rule.dialect} rule for ${rule.eventType}`);
  }
});

test('the reporter SDK writes no event type as a string literal', () => {
  const dir = path.join(ROOT, 'packages/reporter/src');
  const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0);
  for (const file of files) {
    const code = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const name of PLAYER_EVENT_TYPES) {
      assert.ok(
        !code.includes(`'${name}'`),
        `${file} spells '${name}': use EventType from src/events/names.ts`,
      );
    }
  }
});
