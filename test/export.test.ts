// The export CLI (`stats-server export <id> --format ndjson|csv|parquet --out FILE`) run as a
// child process against every store, configured by env as serve is: files compared row by row
// with GET /api/metrics (Parquet read back with hyparquet, an independent reader), multi row
// group Parquet, empty experiments and usage errors. Starts the app (inject) and CLI processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { buildApp } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import type { EventDoc, StoredEvent } from '../src/events/schema.ts';
import { COLUMNS, flatten } from '../src/export/columns.ts';
import { exportExperiment } from '../src/export/export.ts';
import type { EventStore } from '../src/store/types.ts';
import { parseCsv } from './helpers/csv.ts';
import { dashEvent } from './helpers/events.ts';
import { openStore, storeFixtures } from './helpers/stores.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXP = 'exp_export.1';

function cliEnv(config: Readonly<Config>): NodeJS.ProcessEnv {
  const { MONGO_URL: _u, MONGO_HOST: _h, STORAGE: _s, DATA_DIR: _d, ...env } = process.env;
  return config.storage === 'sqlite'
    ? { ...env, STORAGE: 'sqlite', DATA_DIR: config.dataDir, LOG_LEVEL: 'silent' }
    : {
        ...env,
        STORAGE: 'mongodb',
        MONGO_URL: config.mongo.url,
        MONGO_DATABASE: config.mongo.database,
        LOG_LEVEL: 'silent',
      };
}

/** Runs the CLI; resolves with its exit code and stderr. Bounded to 60 s. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function events(): EventDoc[] {
  const out: EventDoc[] = [];
  for (let i = 0; i < 220; i++) {
    const e = dashEvent(EXP, 1700000000 + i / 10, {
      payload: { quality: i % 4, note: i % 7 === 0 ? 'a "quoted", comma\nline — ü' : `n${i}`, nested: { i } },
    });
    out.push({
      ...e,
      video_id: e.video_id ?? 'unknown',
      ...(i % 3 === 0 ? { session_id: `s${i % 2}` } : {}),
      ...(i % 5 === 0 ? { event_id: `e${i}`, client_version: '1.0' } : {}),
      stored_at: new Date(1700000100000 + i),
    });
  }
  return out;
}

for (const fixture of storeFixtures()) {
  describe(`export CLI on ${fixture.name}`, { skip: fixture.skip }, () => {
    let config: Readonly<Config>;
    let store: EventStore;
    let app: FastifyInstance;
    let apiEvents: StoredEvent[];
    let dir: string;

    before(async () => {
      config = fixture.config();
      store = await openStore(config);
      app = await buildApp(config, { store });
      await store.insertMany(events());
      apiEvents = (await app.inject({ method: 'GET', url: `/api/metrics/${EXP}` })).json().metrics;
      assert.equal(apiEvents.length, 220);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-export-'));
    });
    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('NDJSON: one line per event, equal to the API', async () => {
      const out = path.join(dir, 'e.ndjson');
      const r = await cli(['export', EXP, '--format', 'ndjson', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 220 events/);
      const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
      assert.deepEqual(
        lines.map((l) => JSON.parse(l)),
        apiEvents,
      );
    });

    test('CSV: fixed columns, payload and extra fields as JSON text, equal to the API', async () => {
      const out = path.join(dir, 'e.csv');
      const r = await cli(['export', EXP, '--format', 'csv', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const rows = parseCsv(fs.readFileSync(out, 'utf8'));
      assert.deepEqual(rows[0], [...COLUMNS]);
      assert.deepEqual(
        rows.slice(1),
        apiEvents.map((e) => COLUMNS.map((c) => String(flatten(e)[c] ?? ''))),
      );
    });

    test('Parquet: read back with hyparquet, rows equal to the API', async () => {
      const out = path.join(dir, 'e.parquet');
      const r = await cli(['export', EXP, '--format', 'parquet', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(out) });
      assert.equal(rows.length, 220);
      const expected = apiEvents.map((e) => flatten(e));
      rows.forEach((row, i) => {
        const want = expected[i] as ReturnType<typeof flatten>;
        assert.equal((row.stored_at as Date).toISOString(), want.stored_at);
        assert.deepEqual({ ...row, stored_at: want.stored_at }, want);
        assert.deepEqual(JSON.parse(String(row.payload)), apiEvents[i]?.payload);
      });
    });

    test('Parquet is written in row groups (bounded memory)', async () => {
      const out = path.join(dir, 'groups.parquet');
      const n = await exportExperiment(store, {
        experimentId: EXP,
        format: 'parquet',
        out,
        rowGroupSize: 50,
      });
      assert.equal(n, 220);
      const file = await asyncBufferFromFile(out);
      const meta = await parquetMetadataAsync(file);
      assert.equal(meta.row_groups.length, 5);
      assert.equal(Number(meta.num_rows), 220);
      const rows = await parquetReadObjects({ file, columns: ['_id'] });
      assert.deepEqual(
        rows.map((r) => r._id),
        apiEvents.map((e) => e._id),
      );
    });

    test('an empty experiment gives valid empty files and no partial files are left', async () => {
      const csv = path.join(dir, 'empty.csv');
      const r = await cli(['export', 'nothing_here', '--format', 'csv', '--out', csv], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /no events/);
      assert.equal(fs.readFileSync(csv, 'utf8'), `${COLUMNS.join(',')}\r\n`);
      const pq = path.join(dir, 'empty.parquet');
      assert.equal(
        await exportExperiment(store, { experimentId: 'nothing_here', format: 'parquet', out: pq }),
        0,
      );
      assert.equal((await parquetReadObjects({ file: await asyncBufferFromFile(pq) })).length, 0);

      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes('.partial-')),
        [],
      );
    });
  });
}

test('bad export usage exits 2 with the usage text and writes nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-export-usage-'));
  try {
    const bad = path.join(dir, 'bad.out');
    const env = { ...process.env, STORAGE: 'sqlite', DATA_DIR: dir, LOG_LEVEL: 'silent' };
    const results = await Promise.all(
      [
        ['export', EXP, '--format', 'xlsx', '--out', bad],
        ['export', EXP, '--format', 'csv'],
        ['export', '--format', 'csv', '--out', bad],
        ['export', 'bad$id', '--format', 'csv', '--out', bad],
        ['export', EXP, '--format', 'parquet', '--out', '-'],
      ].map(async (args) => ({ args, res: await cli(args, env) })),
    );
    for (const { args, res } of results) {
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /Usage: stats-server export/);
    }
    assert.ok(!fs.existsSync(bad));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
