// The source layout's import rules, read from the files (starts nothing): no import cycles
// between modules of src/ and packages/reporter/src, and no source file over 400 lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIRS = ['src', 'packages/reporter/src'];
/** Cycles being removed elsewhere; delete an entry once its cycle is gone. */
const KNOWN_CYCLES = new Set<string>();

function sources(): string[] {
  return DIRS.flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
      .map((f) => path.join(dir, f)),
  );
}

/** Relative imports and re-exports of a file (type-only ones included), as repo paths. */
function importsOf(file: string): string[] {
  const code = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/g)) {
    out.push(path.normalize(path.join(path.dirname(file), m[1]!)));
  }
  return out;
}

test('no import cycles in src/ and packages/reporter/src', () => {
  const files = sources();
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
  const cycles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of graph.get(f) ?? []) {
      if (state.get(next) === 'open') {
        cycles.add(stack.slice(stack.indexOf(next)).sort().join(' > '));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.ok(graph.size > 50, 'found the sources');
  assert.deepEqual(
    [...cycles].filter((c) => !KNOWN_CYCLES.has(c)),
    [],
    'import cycles (files of each cycle, sorted)',
  );
});

test('no source file over 400 lines', () => {
  const long = sources()
    .map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n').length] as const)
    .filter(([, n]) => n > 400);
  assert.deepEqual(long, []);
});
