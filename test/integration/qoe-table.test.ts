// The per-session QoE table as a file, on every store: GET /api/experiments/:id/qoe as JSON
// (run numbers and starts) and as CSV (?format=csv), and the CLI `stats-server qoe` (a child
// process through bin/stats-server.js, configured by env as serve is) writing the same CSV and
// JSON; refusals (unknown experiment: exit 1, bad usage: exit 2). Starts the app (inject) and
// CLI processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import type { EventDoc } from '../../src/events/schema.ts';
import { QOE_COLUMNS } from '../../src/query/qoe-table.ts';
import type { EventStore } from '../../src/store/types.ts';
import { parseCsv } from '../helpers/csv.ts';
import { openStore, storeFixtures } from '../helpers/stores.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/stats-server.js');
const EXP = 'exp_qoe_table';

function ev(t: number, event_type: string, payload: Record<string, unknown>, session: string): EventDoc {
  return {
    experiment_id: EXP,
    timestamp: t,
    event_type,
    protocol: 'dash',
    video_id: 'http://media.local/v.mpd',
    session_id: session,
    payload,
    stored_at: new Date(),
  };
}

/** A reporter run starting at t0: startup `startup` s, one 1 s stall, 20 s of buffer samples. */
function run(session: string, t0: number, startup: number): EventDoc[] {
  const out = [
    ev(t0, 'play_requested', { autoplay: true }, session),
    ev(t0 + startup, 'playback_started', { startup_time_ms: startup * 1000 }, session),
    ev(
      t0 + startup,
      'quality_change_rendered',
      { old_quality: 0, new_quality: 1, bitrate: 1_600_000 },
      session,
    ),
    ev(t0 + 8, 'rebuffer_event', { rebuffer_count: 1, buffer_level: 0 }, session),
    ev(t0 + 9, 'rebuffer_ended', { duration_ms: 1000 }, session),
    ev(t0 + 22, 'playback_ended', {}, session),
  ];
  for (let t = 2; t <= 21; t++)
    out.push(ev(t0 + t, 'buffer_level_updated', { buffer_level: 3, media_type: 'video' }, session));
  return out;
}

function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function cliEnv(config: Readonly<Config>): NodeJS.ProcessEnv {
  const { MONGO_URL: _u, MONGO_HOST: _h, STORAGE: _s, DATA_DIR: _d, ...env } = process.env;
  return config.storage === 'sqlite'
    ? { ...env, STORAGE: 'sqlite', DATA_DIR: config.dataDir, LOG_LEVEL: 'silent' }
    : { ...env, STORAGE: 'mongodb', MONGO_URL: config.mongo.url, MONGO_DATABASE: config.mongo.database };
}

interface Row extends Record<string, unknown> {
  session_id: string;
  run: number;
  started_unix_s: number;
}

for (const fixture of storeFixtures()) {
  describe(`per-session QoE as a file on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;
    let store: EventStore;
    let config: Readonly<Config>;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-qoe-table-'));
    // Stored out of order, with ids that do not sort by time: run numbers follow first events.
    const starts: Array<[string, number]> = [
      ['zz-second', 1_800_000_100],
      ['aa-third', 1_800_000_200],
      ['mm-first', 1_800_000_000],
    ];

    before(async () => {
      config = fixture.config();
      store = await openStore(config);
      for (const [s, t0] of starts) await store.insertMany(run(s, t0, 1 + t0 / 1e9 - 1.8));
      app = await buildApp(config, { store, logger: { level: 'silent' } });
    });

    after(async () => {
      await app?.close();
      await store?.close();
      await fixture.cleanup();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    test('JSON: every session has its run number (by first event) and start', async () => {
      const res = await app.inject({ url: `/api/experiments/${EXP}/qoe` });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { sessions: Row[] };
      const byId = new Map(body.sessions.map((s) => [s.session_id, s]));
      assert.deepEqual(
        ['mm-first', 'zz-second', 'aa-third'].map((id) => [byId.get(id)?.run, byId.get(id)?.started_unix_s]),
        [
          [1, 1_800_000_000],
          [2, 1_800_000_100],
          [3, 1_800_000_200],
        ],
      );
      // One session keeps its number among all runs.
      const one = await app.inject({ url: `/api/experiments/${EXP}/qoe?session=aa-third` });
      assert.equal((one.json() as { sessions: Row[] }).sessions[0]?.run, 3);
    });

    test('CSV: the table columns, one row per session in run order, the JSON numbers in API units', async () => {
      const json = (await app.inject({ url: `/api/experiments/${EXP}/qoe` })).json() as { sessions: Row[] };
      const res = await app.inject({ url: `/api/experiments/${EXP}/qoe?format=csv` });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/csv/);
      const [head, ...rows] = parseCsv(res.body);
      assert.deepEqual(head, [...QOE_COLUMNS]);
      assert.deepEqual(
        rows.map((r) => r[0]),
        ['mm-first', 'zz-second', 'aa-third'],
      );
      for (const r of rows) {
        const s = json.sessions.find((x) => x.session_id === r[0]);
        assert.ok(s);
        for (const [i, c] of QOE_COLUMNS.entries()) {
          const v: unknown = s[c];
          assert.equal(r[i], v === null || v === undefined ? '' : String(v), `${s.session_id} ${c}`);
        }
      }
      assert.equal(rows[0]?.[QOE_COLUMNS.indexOf('stall_count')], '1');
      assert.equal(rows[0]?.[QOE_COLUMNS.indexOf('avg_bitrate_bps')], '1600000');
      const bad = await app.inject({ url: `/api/experiments/${EXP}/qoe?format=xml` });
      assert.equal(bad.statusCode, 400);
      const missing = await app.inject({ url: '/api/experiments/nope/qoe?format=csv' });
      assert.equal(missing.statusCode, 404);
      assert.equal((missing.json() as { code: string }).code, 'EXPERIMENT_NOT_FOUND');
    });

    test('OpenAPI: the QoE route documents both JSON and CSV', async () => {
      const doc = (await app.inject({ url: '/api/openapi.json' })).json() as {
        paths: Record<string, { get: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
      };
      const content = doc.paths['/api/experiments/{experiment_id}/qoe']?.get.responses['200']?.content ?? {};
      assert.deepEqual(Object.keys(content).sort(), ['application/json', 'text/csv']);
    });

    test('CLI: stats-server qoe writes the same CSV and JSON as the API', async () => {
      const env = cliEnv(config);
      const csvFile = path.join(tmp, `${fixture.name}.csv`);
      const r = await cli(['qoe', EXP, '--format', 'csv', '--out', csvFile], env);
      assert.equal(r.code, 0, r.stderr);
      const api = await app.inject({ url: `/api/experiments/${EXP}/qoe?format=csv` });
      assert.equal(fs.readFileSync(csvFile, 'utf8'), api.body);
      const j = await cli(['qoe', EXP, '-f', 'json'], env);
      assert.equal(j.code, 0, j.stderr);
      const apiJson = (await app.inject({ url: `/api/experiments/${EXP}/qoe` })).json();
      assert.deepEqual(JSON.parse(j.stdout), apiJson);
      const w = await cli(['qoe', EXP, '-f', 'csv', '--warmup', '5'], env);
      assert.equal(w.code, 0, w.stderr);
      const apiWarm = await app.inject({ url: `/api/experiments/${EXP}/qoe?format=csv&warmup=5` });
      assert.equal(w.stdout, apiWarm.body);
    });

    test('CLI: an unknown experiment fails with the known ones; bad usage exits 2', async () => {
      const env = cliEnv(config);
      const out = path.join(tmp, 'none.csv');
      const r = await cli(['qoe', 'nope', '--format', 'csv', '--out', out], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /qoe failed: experiment "nope" has no sessions in .*\(it has: .*exp_qoe_table/);
      assert.equal(fs.existsSync(out), false);
      const u = await cli(['qoe', EXP, '--format', 'xml'], env);
      assert.equal(u.code, 2);
      assert.match(u.stderr, /--format must be one of csv, json/);
    });
  });
}
