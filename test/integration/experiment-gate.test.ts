// New experiments are limited (MAX_EXPERIMENTS, NEW_EXPERIMENTS_PER_MINUTE): on every ingest
// route, events of experiments already stored always pass, and on MongoDB one batch naming a
// thousand new experiment ids no longer creates a thousand collections. Both stores, through
// app.inject().
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { COLLECTION_PREFIX } from '../../src/store/mongo/index.ts';
import { dashEvent } from '../helpers/events.ts';
import { storeFixtures } from '../helpers/stores.ts';

const T = 1_750_000_000;

for (const fixture of storeFixtures()) {
  describe(`new experiments are limited on ${fixture.name}`, { skip: fixture.skip }, () => {
    after(() => fixture.cleanup());

    test('a cap on stored experiments: 403 EXPERIMENT_LIMIT, existing ones still take events', async () => {
      const app = await buildApp(fixture.config({ MAX_EXPERIMENTS: '2', NEW_EXPERIMENTS_PER_MINUTE: '0' }));
      try {
        const submit = (exp: string) =>
          app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent(exp, T) });
        assert.equal((await submit('cap_a')).statusCode, 200);
        assert.equal((await submit('cap_b')).statusCode, 200);
        const third = await submit('cap_c');
        assert.equal(third.statusCode, 403, third.body);
        assert.equal(third.json().code, 'EXPERIMENT_LIMIT');
        assert.equal((await submit('cap_a')).statusCode, 200, 'an existing experiment still takes events');
        // Batch: the refused experiment's events are listed, the others stored.
        const batch = await app.inject({
          method: 'POST',
          url: '/api/submit/batch',
          payload: [dashEvent('cap_b', T + 1), dashEvent('cap_d', T + 1)],
        });
        assert.equal(batch.statusCode, 200);
        assert.equal(batch.json().stored, 1);
        assert.deepEqual(
          batch.json().rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
          [[1, 'EXPERIMENT_LIMIT']],
        );
        const cmcd = await app.inject({
          method: 'POST',
          url: '/api/cmcd/cap_e',
          headers: { 'content-type': 'application/cmcd' },
          payload: `e=t,sid="s",sn=1,ts=${T * 1000},v=2\n`,
        });
        assert.equal(cmcd.statusCode, 403, cmcd.body);
        const list = (await app.inject('/api/experiments')).json().experiments;
        assert.deepEqual(list.map((e: { experiment_id: string }) => e.experiment_id).sort(), [
          'cap_a',
          'cap_b',
        ]);
      } finally {
        await app.close();
      }
    });

    test('a rate of new experiments: 429 NEW_EXPERIMENT_RATE with Retry-After', async () => {
      const app = await buildApp(fixture.config({ MAX_EXPERIMENTS: '0', NEW_EXPERIMENTS_PER_MINUTE: '2' }));
      try {
        const submit = (exp: string) =>
          app.inject({ method: 'POST', url: '/api/submit', payload: dashEvent(exp, T) });
        assert.equal((await submit('rate_a')).statusCode, 200);
        assert.equal((await submit('rate_b')).statusCode, 200);
        const third = await submit('rate_c');
        assert.equal(third.statusCode, 429, third.body);
        assert.equal(third.json().code, 'NEW_EXPERIMENT_RATE');
        assert.ok(Number(third.headers['retry-after']) >= 1);
        assert.equal((await submit('rate_b')).statusCode, 200);
        // Many concurrent requests for one new experiment start it once.
        const again = await buildApp(
          fixture.config({ MAX_EXPERIMENTS: '0', NEW_EXPERIMENTS_PER_MINUTE: '1' }),
        );
        try {
          const replies = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              again.inject({ method: 'POST', url: '/api/submit', payload: dashEvent('rate_same', T + i) }),
            ),
          );
          assert.deepEqual([...new Set(replies.map((r) => r.statusCode))], [200]);
        } finally {
          await again.close();
        }
      } finally {
        await app.close();
      }
    });
  });
}

describe('on MongoDB by default', { skip: storeFixtures()[1]?.skip }, () => {
  const fixture = storeFixtures()[1]!;
  after(() => fixture.cleanup());

  test('one batch naming 1,000 new experiments creates at most the per-minute number', async () => {
    const config = fixture.config();
    assert.equal(config.ingest.newExperimentsPerMinute, 60);
    const app = await buildApp(config);
    try {
      const events = Array.from({ length: 1000 }, (_, i) => dashEvent(`many_${i}`, T));
      const res = await app.inject({ method: 'POST', url: '/api/submit/batch', payload: events });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().stored, 60);
      assert.equal(res.json().rejected.length, 940);
      const store = app.store as unknown as {
        db: { listCollections(): { toArray(): Promise<{ name: string }[]> } };
      };
      const cols = (await store.db.listCollections().toArray()).filter((c) =>
        c.name.startsWith(COLLECTION_PREFIX),
      );
      assert.equal(cols.length, 60);
    } finally {
      await app.close();
    }
  });
});
