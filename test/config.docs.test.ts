// docs/configuration.md against src/config/spec.ts: the committed tables are exactly what the
// spec generates, and every variable the code reads is in them. Pure: reads files, starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { BEGIN, END, renderConfigTables, withConfigTables } from '../src/config/docs.ts';
import { SPEC } from '../src/config/spec.ts';

const DOC = new URL('../docs/configuration.md', import.meta.url);

test('the committed configuration tables are what the spec generates (npm run docs:config)', () => {
  const committed = fs.readFileSync(DOC, 'utf8');
  assert.ok(committed.includes(BEGIN) && committed.includes(END), 'the markers are in docs/configuration.md');
  assert.equal(committed, withConfigTables(committed), 'run `npm run docs:config` and commit the result');
});

test('every variable and alias is listed once, the folded ones under Deprecated', () => {
  const tables = renderConfigTables();
  const [current = '', deprecated = ''] = tables.split('### Deprecated');
  for (const [name, v] of Object.entries(SPEC)) {
    const row = `| \`${name}\``;
    assert.equal(tables.split(row).length - 1, 1, `${name} is listed once`);
    assert.ok(('deprecated' in v && v.deprecated ? deprecated : current).includes(row), name);
    for (const alias of ('aliases' in v && v.aliases) || [])
      assert.ok(current.includes(`\`${alias}\``), alias);
  }
});

test('no source file outside src/config reads process.env for a setting', () => {
  const readers: string[] = [];
  const walk = (dir: URL) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const url = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
      if (e.isDirectory()) {
        if (e.name !== 'client' && e.name !== 'config') walk(url);
      } else if (/\.ts$/.test(e.name) && /process\.env\.[A-Z]/.test(fs.readFileSync(url, 'utf8'))) {
        readers.push(url.pathname);
      }
    }
  };
  walk(new URL('../src/', import.meta.url));
  assert.deepEqual(readers, []);
});
