// The one list of event names (packages/events, @stats-server/events) against its readers:
// docs/events.md must list exactly these event types, every QoE dialect rule must key on one of
// them, the reporter SDK must name no event type outside it, and the package's committed build
// must be what its source compiles to. Reads and compiles files: starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CMCD_EVENT_PREFIX, PLAYER_EVENT_TYPES } from '@stats-server/events';
import ts from 'typescript';
import { SIGNAL_RULES } from '../../src/qoe/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
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

test('docs/events.md lists exactly the event types of @stats-server/events, in order', () => {
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
        `${file} spells '${name}': use EventType from @stats-server/events`,
      );
    }
  }
});

test('packages/events/dist is what its build makes of its source', () => {
  const dir = path.join(ROOT, 'packages/events');
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(dir, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  assert.ok(config, 'packages/events/tsconfig.json parses');
  const built = new Map<string, string>();
  ts.createProgram(config.fileNames, config.options).emit(undefined, (file, text) =>
    built.set(path.relative(dir, file), text),
  );
  assert.ok(built.size > 0, 'the build emits files');
  for (const [file, text] of built) {
    const committed = fs.readFileSync(path.join(dir, file), 'utf8');
    assert.equal(committed, text, `packages/events/${file} is stale: run npm run build:events`);
  }
});
