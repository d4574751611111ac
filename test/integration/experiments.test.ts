// GET /api/experiments, GET /api/experiments/:id/sessions and DELETE /api/experiments/:id with
// its admin rules (token set: 401 without/with a wrong token; unset: 403 unless
// ALLOW_UNAUTHENTICATED_ADMIN=true), through app.inject() on every store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { EventDoc } from '../../src/events/schema.ts';
import type { EventStore } from '../../src/store/types.ts';
import { dashEvent } from '../helpers/events.ts';
import { openStore, storeFixtures } from '../helpers/stores.ts';

/** Writes test events straight to a store (as the ingest path would, stored_at included). */
const insert = (store: EventStore, events: object[]) => store.insertMany(events as EventDoc[]);

for (const fixture of storeFixtures()) {
  describe(`experiments and sessions on ${fixture.name}`, { skip: fixture.skip }, () => {
    let store: EventStore;
    const apps: FastifyInstance[] = [];
    let app: FastifyInstance;

    before(async () => {
      const config = fixture.config({ ADMIN_TOKEN: 's3cret-token' });
      store = await openStore(config);
      app = await buildApp(config, { store });
      apps.push(app);
    });
    after(async () => {
      for (const a of apps) await a.close();
      await store?.close();
      await fixture.cleanup();
    });

    const seed = async (exp: string) => {
      const at = (t: number, extra: object = {}) => ({
        ...dashEvent(exp, t),
        ...extra,
        stored_at: new Date(),
      });
      await insert(store, [
        at(105, { session_id: 'sA', event_type: 'playback_started', protocol: 'dash' }),
        at(100, { session_id: 'sA', event_type: 'play_requested' }),
        at(120, { session_id: 'sA' }),
        at(90, { payload: { session_id: 'sB' }, protocol: 'hls', video_id: 'http://m/b.m3u8' }),
        at(95, { payload: { session_id: 'sB' }, protocol: 'hls', video_id: 'http://m/b.m3u8' }),
        at(200, { video_id: 'http://m/c.mpd' }),
        at(150, { video_id: 'http://m/c.mpd', event_type: 'buffer_level_updated' }),
      ]);
    };

    test('experiments list counts, time range, event types and sessions', async () => {
      await seed('exp_list_a');
      await insert(store, [{ ...dashEvent('exp_list_b', 7), stored_at: new Date() }]);
      const res = await app.inject({ method: 'GET', url: '/api/experiments' });
      assert.equal(res.statusCode, 200);
      const list = res.json().experiments;
      const a = list.find((e: { experiment_id: string }) => e.experiment_id === 'exp_list_a');
      assert.deepEqual(a, {
        experiment_id: 'exp_list_a',
        count: 7,
        first_timestamp: 90,
        last_timestamp: 200,
        event_types: [
          'buffer_level_updated',
          'fragment_loading_completed',
          'play_requested',
          'playback_started',
        ],
        sessions: 3,
      });
      const b = list.find((e: { experiment_id: string }) => e.experiment_id === 'exp_list_b');
      assert.equal(b.count, 1);
      assert.equal(b.sessions, 1);
    });

    test('sessions: keyed by session_id, payload.session_id, else video_id, ordered by start', async () => {
      await seed('exp_sessions');
      const res = await app.inject({ method: 'GET', url: '/api/experiments/exp_sessions/sessions' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), {
        experiment_id: 'exp_sessions',
        sessions: [
          {
            session_id: 'sB',
            source: 'session_id',
            count: 2,
            first_timestamp: 90,
            last_timestamp: 95,
            video_id: 'http://m/b.m3u8',
            protocol: 'hls',
          },
          {
            session_id: 'sA',
            source: 'session_id',
            count: 3,
            first_timestamp: 100,
            last_timestamp: 120,
            video_id: 'http://media.local/live/manifest.mpd',
            protocol: 'dash',
          },
          {
            session_id: 'http://m/c.mpd',
            source: 'video_id',
            count: 2,
            first_timestamp: 150,
            last_timestamp: 200,
            video_id: 'http://m/c.mpd',
            protocol: 'dash',
          },
        ],
      });
      const missing = await app.inject({ method: 'GET', url: '/api/experiments/nope/sessions' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 'EXPERIMENT_NOT_FOUND');
      const bad = await app.inject({ method: 'GET', url: '/api/experiments/bad$id/sessions' });
      assert.equal(bad.statusCode, 400);
    });

    test('DELETE with ADMIN_TOKEN set: 401 without or with a wrong token, 200 with it', async () => {
      await seed('exp_delete');
      const del = (headers: Record<string, string> = {}) =>
        app.inject({ method: 'DELETE', url: '/api/experiments/exp_delete', headers });
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 's3cret-token' },
      ] as Record<string, string>[]) {
        const res = await del(headers);
        assert.equal(res.statusCode, 401, JSON.stringify(headers));
        assert.equal(res.json().code, 'UNAUTHORIZED');
      }
      const ok = await del({ authorization: 'Bearer s3cret-token' });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.json(), { status: 'success', deleted: 7 });
      const read = await app.inject({ method: 'GET', url: '/api/metrics/exp_delete' });
      assert.equal(read.json().count, 0);
      const list = (await app.inject({ method: 'GET', url: '/api/experiments' })).json().experiments;
      assert.ok(!list.some((e: { experiment_id: string }) => e.experiment_id === 'exp_delete'));
      const again = await del({ authorization: 'Bearer s3cret-token' });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json().code, 'EXPERIMENT_NOT_FOUND');

      // The experiment can be written again, and retries are still deduplicated.
      const e = { ...dashEvent('exp_delete', 1), event_id: 'again-1' };
      await app.inject({ method: 'POST', url: '/api/submit', payload: e });
      await app.inject({ method: 'POST', url: '/api/submit', payload: e });
      assert.equal((await app.inject({ method: 'GET', url: '/api/metrics/exp_delete' })).json().count, 1);
    });

    test('DELETE without ADMIN_TOKEN: 403, unless ALLOW_UNAUTHENTICATED_ADMIN=true', async () => {
      await seed('exp_open');
      const closed = await buildApp(fixture.config(), { store });
      apps.push(closed);
      const res = await closed.inject({ method: 'DELETE', url: '/api/experiments/exp_open' });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'FORBIDDEN');

      const open = await buildApp(fixture.config({ ALLOW_UNAUTHENTICATED_ADMIN: 'true' }), { store });
      apps.push(open);
      const ok = await open.inject({ method: 'DELETE', url: '/api/experiments/exp_open' });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().deleted, 7);
    });
  });
}
