// Every SQLite statement that reads one session searches an index of sessions: reads go
// through session_events (in its key order: no sort), the writer's statements on one run of a
// split base through the base index. Left to itself, the planner once read one session's
// events in (timestamp, id) order through the experiment's time index and filtered the whole
// experiment (0.5 s for a 1,500-event session of a 600k-event experiment). Starts libsql on a
// temp file; reads the plans SQLite chose.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'libsql';
import { configFrom } from '../../src/config/index.ts';
import { createStore } from '../../src/store/index.ts';
import { pageSql } from '../../src/store/sqlite/read.ts';
import { prepareStatements } from '../../src/store/sqlite/statements.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stats-plans-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('one session is read through the session index, on every read and write path', async () => {
  const store = createStore(configFrom({ DATA_DIR: dir }));
  await store.open();
  await store.insertMany(
    Array.from({ length: 20 }, (_, i) => ({
      experiment_id: 'e',
      timestamp: 1000 + i,
      event_type: 'periodic_metrics',
      protocol: 'dash',
      video_id: 'v.mpd',
      session_id: `s${i % 2}`,
      payload: {},
      stored_at: new Date(),
    })),
  );
  await store.close();

  const db = new Database(path.join(dir, 'stats.db'), { readonly: true });
  try {
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array(20).fill(1)) as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join(' | ');
    const reads: string[] = [];
    for (const q of [
      { experimentId: 'e', session: 's0' },
      { experimentId: 'e', session: 's0', eventType: 'periodic_metrics' },
      { experimentId: 'e', session: 's0', startTime: 1, endTime: 2 },
    ]) {
      for (const after of [false, true]) reads.push(pageSql(q, after).sql);
    }
    assert.equal(reads.length, 6);
    for (const sql of reads) {
      const p = plan(sql);
      assert.match(p, /SEARCH s USING PRIMARY KEY \(experiment_id=\? AND session_key=\?/, `${sql}\n=> ${p}`);
      assert.match(p, /SEARCH e USING INTEGER PRIMARY KEY \(rowid=\?\)/, `${sql}\n=> ${p}`);
      assert.doesNotMatch(p, /TEMP B-TREE/, `${sql}\n=> ${p}`);
    }
    // The writer's statements, caught as they are prepared.
    const real = db.prepare.bind(db);
    const seen: string[] = [];
    const spy = Object.create(db) as typeof db;
    spy.prepare = ((sql: string) => {
      seen.push(sql);
      return real(sql);
    }) as typeof db.prepare;
    prepareStatements(spy as never);
    // Every statement of the run split (windows, moves, a run's events) is a range of the base index.
    const runs = seen.filter((s) => /session_base = \?/.test(s));
    assert.ok(runs.length >= 6, `statements found: ${runs.length}`);
    for (const sql of runs) {
      const p = plan(sql);
      assert.match(
        p,
        /(SEARCH|SCAN) events USING (COVERING )?INDEX events_exp_base_ts \(experiment_id=\? AND session_base=\?/,
        `${sql}\n=> ${p}`,
      );
      assert.doesNotMatch(p, /TEMP B-TREE/, `${sql}\n=> ${p}`);
    }
  } finally {
    db.close();
  }
});
