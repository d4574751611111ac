// The source layout's import rules, read from the files (starts nothing): no import cycles
// between modules of src/ and packages/*/src, src/ imports run down the layer table only,
// packages reach no file outside their own folder, and no source file over 400 lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PACKAGES = fs
  .readdirSync(path.join(ROOT, 'packages'))
  .filter((p) => fs.existsSync(path.join(ROOT, 'packages', p, 'src')));
const DIRS = ['src', ...PACKAGES.map((p) => `packages/${p}/src`)];
/** Cycles being removed elsewhere; delete an entry once its cycle is gone. */
const KNOWN_CYCLES = new Set<string>();

/**
 * The layers of src/, bottom to top: each entry is a top-level folder (with a slash) or file of
 * src/. A module may import from its own folder and from the layers below its own, never from
 * its own layer's other entries or from above. A new folder fails the test until it is placed.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'sessions/'], // the error catalogue; the pure session rules (key, runs, summary)
  ['events/'], // the event model: schema, normalising, payload values
  ['config/'], // environment -> the frozen Config
  ['http/', 'security/', 'health/', 'sdk/'], // HTTP plumbing shared by route families; small routes
  ['cmcd/'], // CMCD reports -> events (qoe/ reads their payloads through cmcd/payload.ts)
  ['qoe/'], // pure QoE: events in, figures out
  ['store/'], // EventStore and its backends
  ['export/', 'ops/'], // exports of the store; the data directory lock and operator logging
  ['ingest/', 'session-qoe/', 'metrics/'], // services and routes on the store
  ['query/'], // the read routes
  ['web/', 'commands/'], // the dashboard (its client reads the query routes' types); the CLI commands
  ['app.ts'],
  ['server.ts'],
  ['cli.ts'],
];

function sources(): string[] {
  return DIRS.flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
      .map((f) => path.join(dir, f)),
  );
}

/** Relative imports, re-exports and import() calls of a file (type-only ones included), as repo paths. */
function importsOf(file: string): string[] {
  const code = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of code.matchAll(
    /(?:(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+|\bimport\(\s*)'(\.[^']+)'/g,
  )) {
    out.push(path.normalize(path.join(path.dirname(file), m[1]!)));
  }
  return out;
}

/** The entry of LAYERS a file of src/ belongs to: its top-level folder or file. */
function layerEntry(file: string): string {
  const [first, ...rest] = path.relative('src', file).split(path.sep);
  return rest.length > 0 ? `${first}/` : (first as string);
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

test('src/ imports run down the layer table', () => {
  const layerOf = new Map(LAYERS.flatMap((entries, i) => entries.map((e) => [e, i] as const)));
  const files = sources().filter((f) => f.startsWith(`src${path.sep}`));
  const unplaced = [...new Set(files.map(layerEntry))].filter((e) => !layerOf.has(e));
  assert.deepEqual(unplaced, [], 'folders or files of src/ missing from LAYERS');
  const wrong: string[] = [];
  for (const f of files) {
    const from = layerEntry(f);
    for (const to of importsOf(f)
      .filter((i) => i.startsWith(`src${path.sep}`))
      .map(layerEntry)) {
      if (to !== from && (layerOf.get(to) ?? Infinity) >= (layerOf.get(from) ?? -1)) {
        wrong.push(`${f} imports ${to} (layer ${layerOf.get(to)}, not below ${from}'s ${layerOf.get(from)})`);
      }
    }
  }
  assert.deepEqual(wrong, [], 'imports that run sideways or up the layer table');
});

test('packages import nothing outside their own folder but by package name', () => {
  const out = sources()
    .filter((f) => f.startsWith(`packages${path.sep}`))
    .flatMap((f) => {
      const pkg = f.split(path.sep).slice(0, 2).join(path.sep) + path.sep;
      return importsOf(f)
        .filter((i) => !i.startsWith(pkg))
        .map((i) => `${f} imports ${i}`);
    });
  assert.deepEqual(out, []);
});
