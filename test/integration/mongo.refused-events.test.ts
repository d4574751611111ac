// A document the MongoDB server refuses with its own write error fails only that event: the
// others of the same insert are stored and reported stored, the refusal is reported with its
// index and the server's reason, and the summaries count exactly the stored events (an
// explicit session, and a testbed run split by stream_initialized). The events are handed to
// the store directly: the HTTP routes refuse such keys before they reach it. FerretDB refuses
// a "$"-prefixed key inside the payload; MongoDB 5.0+ stores it, and then all are stored.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { EventDoc } from '../../src/events/schema.ts';
import { mongoFixture, openStore } from '../helpers/stores.ts';

const fx = mongoFixture();
after(() => fx.cleanup());

test('a refused document fails only its own event, on MongoDB', { skip: fx.skip }, async () => {
  const store = await openStore(fx.config());
  try {
    const ev = (t: number, type: string, extra: Partial<EventDoc> = {}): EventDoc => ({
      experiment_id: 'refused',
      timestamp: 1_700_000_000 + t,
      event_type: type,
      protocol: 'dash',
      video_id: 'm.mpd',
      payload: {},
      stored_at: new Date(),
      ...extra,
    });
    const events = [
      ev(0, 'playback_started', { session_id: 'a' }),
      ev(1, 'periodic_metrics', { session_id: 'a', payload: { $bad: 1 } }),
      ev(2, 'periodic_metrics', { session_id: 'a' }),
      ev(0, 'stream_initialized'),
      ev(1, 'stream_initialized', { payload: { $bad: 1 } }),
      ev(2, 'periodic_metrics'),
    ];
    const r = await store.insertMany(events);
    const refused = (r.failed ?? []).map((f) => f.index);
    if (process.env.FERRETDB_BIN) assert.deepEqual(refused, [1, 4], 'FerretDB refuses "$" keys');
    for (const f of r.failed ?? []) assert.match(f.message, /\S/, 'the reason is given');
    assert.equal(r.inserted, events.length - refused.length);
    assert.deepEqual(r.duplicates, []);

    const stored: Array<{ timestamp: number; session_key?: string | null }> = [];
    for await (const b of store.readEvents({ experimentId: 'refused' })) stored.push(...b);
    assert.equal(stored.length, r.inserted, 'every event reported stored is stored, and no other');
    const perKey = new Map<string, number>();
    for (const e of stored) perKey.set(String(e.session_key), (perKey.get(String(e.session_key)) ?? 0) + 1);
    const rows = await store.listSessions('refused');
    assert.deepEqual(
      new Map(rows.map((x) => [x.session_id, x.count])),
      perKey,
      'the summaries count the stored events, session by session',
    );
    // The refused stream_initialized started no run: the testbed events are one session.
    if (refused.includes(4)) assert.deepEqual([...perKey.keys()].sort(), ['a', 'm.mpd']);
  } finally {
    await store.close();
  }
});
