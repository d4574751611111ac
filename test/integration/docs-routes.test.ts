// docs/api.md's route table against the routes the app registers (buildApp on SQLite, open and
// public profiles, read from app.printRoutes()): a route missing from the table, or a row no
// route answers, fails. HEAD is left out (Fastify adds it to every GET; the doc says so).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { sqliteFixture } from '../helpers/stores.ts';

const API_MD = path.resolve(import.meta.dirname, '../../docs/api.md');
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * "METHOD path" for every route of app.printRoutes({ commonPrefix: false }): a tree whose
 * lines are `├── segment (GET, HEAD)`, indented 4 columns per level under their parent.
 */
function registeredRoutes(printed: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    const full = stack.join('');
    for (const method of (m[3] ?? '').split(', ')) {
      if (METHODS.has(method)) out.add(`${method} ${full}`);
    }
  }
  return out;
}

/**
 * "METHOD path" for every row of the table at the top of docs/api.md. A cell holds backticked
 * items such as `POST /api/submit`, `POST`/`GET /api/cmcd[/:experiment_id]` (two methods; an
 * optional tail is two paths) or `/ui/:file` (the methods of the item before it).
 */
function documentedRoutes(markdown: string): Set<string> {
  const table = markdown.slice(markdown.indexOf('| method and path'), markdown.indexOf('\n## '));
  const out = new Set<string>();
  for (const row of table.split('\n').slice(2)) {
    const cell = row.split('|')[1]?.trim();
    if (!cell) continue;
    let methods: string[] = [];
    let pending: string[] = [];
    for (const item of cell.matchAll(/`([^`]+)`/g)) {
      const words = (item[1] ?? '').split(' ');
      if (words.every((w) => METHODS.has(w))) {
        pending.push(...words); // `POST`/`GET /path`: the methods before the path
        continue;
      }
      const target = words.at(-1) ?? '';
      const named = [...pending, ...words.slice(0, -1)];
      if (named.length > 0) methods = named;
      pending = [];
      const optional = /^(.*)\[(.+)\]$/.exec(target);
      const paths = optional ? [optional[1] ?? '', `${optional[1]}${optional[2]}`] : [target];
      for (const m of methods) for (const p of paths) out.add(`${m} ${p}`);
    }
  }
  return out;
}

/** The registered routes a documented `GET /prefix/*` stands for (the Swagger UI's assets). */
function coveredByWildcard(route: string, documented: Set<string>): boolean {
  return [...documented].some((d) => d.endsWith('/*') && route.startsWith(d.slice(0, -1)));
}

const fixture = sqliteFixture();
after(() => fixture.cleanup());

async function routesOf(overrides: Record<string, string>): Promise<Set<string>> {
  const app: FastifyInstance = await buildApp(fixture.config(overrides));
  try {
    await app.ready();
    return registeredRoutes(app.printRoutes({ commonPrefix: false }));
  } finally {
    await app.close();
  }
}

test('docs/api.md lists every route the app registers, and no other', async () => {
  const registered = new Set([
    ...(await routesOf({})),
    ...(await routesOf({
      SECURITY_PROFILE: 'public',
      INGEST_KEYS: 'docs-routes-ingest-key-0000',
      READ_TOKEN: 'docs-routes-read-token-0000',
      ADMIN_TOKEN: 'docs-routes-admin-token-000',
      CORS_ORIGINS: 'https://player.example.org',
    })),
  ]);
  const documented = documentedRoutes(fs.readFileSync(API_MD, 'utf8'));
  assert.ok(registered.has('POST /api/submit') && registered.size > 10, [...registered].join('\n'));
  assert.ok(documented.has('POST /api/submit') && documented.size > 10, [...documented].join('\n'));

  const undocumented = [...registered].filter((r) => !documented.has(r) && !coveredByWildcard(r, documented));
  const unanswered = [...documented].filter((d) => !registered.has(d));
  assert.deepEqual(undocumented, [], 'routes the app answers that docs/api.md does not list');
  assert.deepEqual(unanswered, [], 'routes docs/api.md lists that the app does not register');
});

test('the route table parsers read what they are given', () => {
  const printed = [
    '└── / (GET, HEAD)',
    '    ├── api/submit (POST)',
    '    │   └── /batch (POST)',
    '    ├── api/docs (GET, HEAD)',
    '    │   └── / (GET, HEAD)',
    '    │       └── json (GET, HEAD)',
    '    └── api/cmcd (GET, POST, HEAD)',
    '└── * (OPTIONS)',
  ].join('\n');
  assert.deepEqual([...registeredRoutes(printed)].sort(), [
    'GET /',
    'GET /api/cmcd',
    'GET /api/docs',
    'GET /api/docs/',
    'GET /api/docs/json',
    'OPTIONS *',
    'POST /api/cmcd',
    'POST /api/submit',
    'POST /api/submit/batch',
  ]);
  const md = [
    '| method and path | what |',
    '| --- | --- |',
    '| `POST /api/submit` | one |',
    '| `POST`/`GET /api/cmcd[/:experiment_id]` | cmcd |',
    '| `GET /`, `/ui/:file` | ui |',
    '| `OPTIONS *` | cors |',
    '',
    '## Errors',
  ].join('\n');
  assert.deepEqual([...documentedRoutes(md)].sort(), [
    'GET /',
    'GET /api/cmcd',
    'GET /api/cmcd/:experiment_id',
    'GET /ui/:file',
    'OPTIONS *',
    'POST /api/cmcd',
    'POST /api/cmcd/:experiment_id',
    'POST /api/submit',
  ]);
});
