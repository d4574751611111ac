// Idempotent retries: the same (experiment_id, event_id) sent again, singly or in batches,
// one after another or concurrently (group commit on and off), and after the app is closed and
// rebuilt on the same store (a restart), is stored once and still answered success. Runs
// app.inject() against every store (an SQLite file in a temp dir and the MongoDB from MONGO_URL).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { storeFixtures } from '../helpers/stores.ts';

for (const fixture of storeFixtures()) {
  describe(`idempotent retries on ${fixture.name}`, { skip: fixture.skip }, () => {
    const apps: FastifyInstance[] = [];
    after(async () => {
      for (const a of apps) await a.close();
      await fixture.cleanup();
    });

    async function open(config: Readonly<Config>): Promise<FastifyInstance> {
      const app = await buildApp(config);
      apps.push(app);
      return app;
    }
    const submit = (app: FastifyInstance, body: unknown) =>
      app.inject({ method: 'POST', url: '/api/submit', payload: body as object });
    const batch = (app: FastifyInstance, body: unknown) =>
      app.inject({ method: 'POST', url: '/api/submit/batch', payload: body as object });
    async function stored(app: FastifyInstance, id: string) {
      const res = await app.inject({ method: 'GET', url: `/api/metrics/${id}` });
      return res.json().metrics as Array<{ event_id?: string; timestamp: number }>;
    }

    for (const groupCommit of ['on', 'off']) {
      test(`single submits with one event_id, sequential and concurrent, are stored once (group commit ${groupCommit})`, async () => {
        const app = await open(fixture.config({ GROUP_COMMIT: groupCommit }));
        const exp = `idem_single_${groupCommit}`;
        const ev = dashEvent(exp, 1, { event_id: 'evt-1' });
        for (let i = 0; i < 3; i++) {
          const res = await submit(app, ev);
          assert.equal(res.statusCode, 200);
          assert.deepEqual(res.json(), { status: 'success' });
        }
        const burst = await Promise.all(
          Array.from({ length: 40 }, (_, i) => submit(app, dashEvent(exp, 2, { event_id: `evt-${i % 4}` }))),
        );
        for (const res of burst) assert.deepEqual(res.json(), { status: 'success' });
        const rows = await stored(app, exp);
        assert.deepEqual(rows.map((r) => r.event_id).sort(), ['evt-0', 'evt-1', 'evt-2', 'evt-3']);
        // The first write wins: the retry of evt-1 did not replace it.
        assert.equal(rows.find((r) => r.event_id === 'evt-1')?.timestamp, 1);
      });

      test(`concurrent batches overlapping in event_ids store each once and report duplicates (group commit ${groupCommit})`, async () => {
        const app = await open(fixture.config({ GROUP_COMMIT: groupCommit }));
        const exp = `idem_batch_${groupCommit}`;
        const make = (from: number) =>
          Array.from({ length: 20 }, (_, i) => dashEvent(exp, from + i, { event_id: `b-${from + i}` }));
        // Batches [0..19], [10..29], [20..39], ... overlap their neighbours by half.
        const replies = await Promise.all(Array.from({ length: 8 }, (_, k) => batch(app, make(k * 10))));
        let storedSum = 0;
        let dupSum = 0;
        for (const res of replies) {
          assert.equal(res.statusCode, 200);
          const body = res.json();
          assert.equal(body.stored + body.duplicates, 20);
          storedSum += body.stored;
          dupSum += body.duplicates;
        }
        const rows = await stored(app, exp);
        assert.equal(rows.length, 90);
        assert.equal(new Set(rows.map((r) => r.event_id)).size, 90);
        assert.equal(storedSum, 90);
        assert.equal(dupSum, 8 * 20 - 90);
      });
    }

    test('a batch reports duplicates of stored events and within itself; events without event_id are never deduplicated', async () => {
      const app = await open(fixture.config());
      const exp = 'idem_report';
      assert.equal((await submit(app, dashEvent(exp, 1, { event_id: 'a' }))).statusCode, 200);
      const res = await batch(app, [
        dashEvent(exp, 1, { event_id: 'a' }),
        dashEvent(exp, 2, { event_id: 'b' }),
        dashEvent(exp, 3, { event_id: 'b' }),
        dashEvent(exp, 4),
        dashEvent(exp, 4),
        dashEvent('idem_report_other', 1, { event_id: 'a' }),
      ]);
      assert.deepEqual(res.json(), { status: 'success', stored: 4, duplicates: 2, rejected: [] });
      assert.equal((await stored(app, exp)).length, 4);
      assert.equal((await stored(app, 'idem_report_other')).length, 1, 'event_ids are per experiment');
    });

    test('retries after a restart (app closed and rebuilt on the same store) are stored once', async () => {
      const config = fixture.config();
      const exp = 'idem_restart';
      const events = Array.from({ length: 10 }, (_, i) => dashEvent(exp, i, { event_id: `r-${i}` }));
      const first = await buildApp(config);
      assert.equal((await batch(first, events)).json().stored, 10);
      assert.equal((await submit(first, events[0])).statusCode, 200);
      await first.close();

      const second = await open(config);
      assert.deepEqual((await submit(second, events[3])).json(), { status: 'success' });
      assert.deepEqual((await batch(second, events)).json(), {
        status: 'success',
        stored: 0,
        duplicates: 10,
        rejected: [],
      });
      assert.equal((await stored(second, exp)).length, 10);
    });
  });
}
