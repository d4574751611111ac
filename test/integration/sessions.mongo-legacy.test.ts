// MongoDB sessions on collections this server did not key: a Flask-written collection (plain spec
// documents inserted with the driver, no session_key) read before and after the backfill, with
// the same answers as the embedded store given the same events; and the repair at open after a
// lost summary update. Starts the app on the test MongoDB (FerretDB) and an embedded store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MongoClient } from 'mongodb';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import type { EventDoc } from '../../src/events/schema.ts';
import type { EventStore, SessionRow } from '../../src/store/types.ts';
import { MONGO_URL, mongoSkip } from '../helpers/env.ts';
import { mongoFixture, openStore, sqliteFixture } from '../helpers/stores.ts';

const EXP = 'exp_flask';
const MPD = 'http://media.local/testbed/manifest.mpd';

function ev(t: number, event_type: string, extra: Partial<EventDoc> = {}, payload: object = {}): EventDoc {
  return {
    experiment_id: EXP,
    timestamp: t,
    event_type,
    protocol: 'dash',
    video_id: MPD,
    payload: { ...payload },
    ...extra,
    stored_at: new Date(Date.UTC(2026, 0, 1)),
  } as EventDoc;
}

/**
 * Two testbed runs of one manifest under one experiment id (no session id: split at the second
 * stream_initialized), payload.session_id as a number and as "" (both fall back to video_id),
 * a string payload.session_id, and an explicit session.
 */
function flaskEvents(): EventDoc[] {
  return [
    ev(1000, 'stream_initialized', {}, { mpd_url: MPD }),
    ev(1002, 'playback_started'),
    ev(1010, 'fragment_loading_completed'),
    ev(1100, 'stream_initialized', {}, { mpd_url: MPD }),
    ev(1103, 'playback_started'),
    ev(1110, 'fragment_loading_completed'),
    ev(2000, 'fragment_loading_completed', { video_id: 'v' }, { session_id: 7 }),
    ev(2001, 'fragment_loading_completed', { video_id: 'v' }, { session_id: '' }),
    ev(2002, 'fragment_loading_completed', { video_id: 'v' }),
    ev(3000, 'fragment_loading_completed', { video_id: 'w' }, { session_id: 'ps1' }),
    ev(4000, 'play_requested', { session_id: 'r1' }),
    ev(4001, 'playback_started', { session_id: 'r1' }),
  ];
}

const EXPECTED_SESSIONS = [MPD, `${MPD}#2`, 'v', 'ps1', 'r1'];

const plain = (rows: SessionRow[]) => rows.map(({ version: _v, qoe: _q, base: _b, ...s }) => s);

describe('MongoDB collections without stored session keys', { skip: mongoSkip }, () => {
  const fixture = mongoFixture();
  const sqlite = sqliteFixture();
  let config: Readonly<Config>;
  let store: EventStore;
  let app: FastifyInstance;
  let reference: EventStore;
  let client: MongoClient;

  before(async () => {
    if (!MONGO_URL) return;
    config = fixture.config();
    client = new MongoClient(MONGO_URL);
    // Written the way the Flask server writes: spec fields only.
    await client.db(config.mongo.database).collection(`metrics-${EXP}`).insertMany(flaskEvents());
    store = await openStore(config);
    app = await buildApp(config, { store });
    reference = await openStore(sqlite.config());
    await reference.insertMany(flaskEvents());
  });

  after(async () => {
    await app?.close();
    await store?.close();
    await reference?.close();
    await client?.close();
    await fixture.cleanup();
    await sqlite.cleanup();
  });

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };

  /** What a user sees: sessions, per-session events, per-session QoE, the experiments list. */
  async function answers() {
    const sessions = (await get(`/api/experiments/${EXP}/sessions`)).sessions;
    const events: Record<string, unknown[]> = {};
    for (const id of EXPECTED_SESSIONS) {
      const body = await get(`/api/metrics/${EXP}?session_id=${encodeURIComponent(id)}`);
      events[id] = body.metrics.map((e: { timestamp: number; session_key: string }) => [
        e.timestamp,
        e.session_key,
      ]);
    }
    const qoe = (await get(`/api/experiments/${EXP}/qoe`)).sessions;
    const experiments = (await get('/api/experiments')).experiments;
    return { sessions, events, qoe, experiments };
  }

  async function checkAnswers() {
    const a = await answers();
    assert.deepEqual(
      a.sessions.map((s: { session_id: string }) => s.session_id),
      EXPECTED_SESSIONS,
      'each testbed run is its own session; number and "" payload ids fall back to video_id',
    );
    assert.deepEqual(a.sessions, plain(await reference.listSessions(EXP)), 'the embedded store agrees');
    assert.deepEqual(a.events[MPD], [
      [1000, MPD],
      [1002, MPD],
      [1010, MPD],
    ]);
    assert.deepEqual(a.events[`${MPD}#2`], [
      [1100, `${MPD}#2`],
      [1103, `${MPD}#2`],
      [1110, `${MPD}#2`],
    ]);
    assert.equal(a.events.v?.length, 3, '?session_id=v returns all three events of v');
    const startup = Object.fromEntries(
      a.qoe.map((s: { session_id: string; startup_time_s: number | null }) => [
        s.session_id,
        s.startup_time_s,
      ]),
    );
    assert.equal(startup[MPD], 2, 'run 1 has its own startup');
    assert.equal(startup[`${MPD}#2`], 3, 'run 2 has its own startup');
    assert.equal(a.qoe.length, EXPECTED_SESSIONS.length, 'no session listed twice');
    const [exp] = a.experiments.filter((e: { experiment_id: string }) => e.experiment_id === EXP);
    assert.deepEqual(
      exp,
      (await reference.listExperiments()).find((e) => e.experiment_id === EXP),
    );
    return a;
  }

  test('read correctly before the backfill, the same after it, and the documents carry keys', async () => {
    const col = client.db(config.mongo.database).collection(`metrics-${EXP}`);
    assert.equal(await col.countDocuments({ session_key: { $exists: true } }), 0);
    const beforeBackfill = await checkAnswers();

    const r = await store.rebuildSummaries();
    assert.deepEqual(r, { experiments: 1, sessions: EXPECTED_SESSIONS.length, events: flaskEvents().length });
    const docs = await col.find({}).sort({ timestamp: 1 }).toArray();
    assert.deepEqual(
      docs.map((d) => d.session_key),
      [MPD, MPD, MPD, `${MPD}#2`, `${MPD}#2`, `${MPD}#2`, 'v', 'v', 'v', 'ps1', 'r1', 'r1'],
    );
    assert.equal(
      docs.find((d) => d.session_id === 'r1')?.session_base,
      undefined,
      'explicit ids have no base',
    );
    const afterBackfill = await checkAnswers();
    assert.deepEqual(afterBackfill, beforeBackfill);

    // A rebuild of keyed documents changes no key.
    await store.rebuildSummaries(EXP);
    assert.deepEqual(await checkAnswers(), beforeBackfill);
  });
});

describe('MongoDB summaries after a lost summary update', { skip: mongoSkip }, () => {
  const fixture = mongoFixture();
  let config: Readonly<Config>;
  let client: MongoClient;

  before(() => {
    config = fixture.config();
    if (MONGO_URL) client = new MongoClient(MONGO_URL);
  });
  after(async () => {
    await client?.close();
    await fixture.cleanup();
  });

  test('reopening the store rebuilds summaries equal to the events', async () => {
    const first = await openStore(config);
    const events = flaskEvents();
    // Out of order and in two groups, so run splitting moves stored events.
    await first.insertMany(events.slice(6).reverse());
    await first.insertMany(events.slice(0, 6).reverse());
    const sessions = await first.listSessions(EXP);
    const experiments = await first.listExperiments();
    assert.deepEqual(
      sessions.map((s) => s.session_id),
      EXPECTED_SESSIONS,
    );
    await first.close();

    // A crash between the events and their summaries: the summaries never arrive, and the
    // write's "writing" note (set before its events, removed with its last update) stays.
    const db = client.db(config.mongo.database);
    await db
      .collection('stats_experiments')
      .updateOne({ _id: EXP as never }, { $set: { 'writing.dead0': 1 } });
    await db
      .collection('stats_sessions')
      .deleteMany({ experiment_id: EXP, session_key: { $in: [MPD, 'r1'] } });
    await db
      .collection('stats_sessions')
      .updateOne({ experiment_id: EXP, session_key: 'v' }, { $inc: { count: -1 } });

    const second = await openStore(config);
    try {
      assert.deepEqual(plain(await second.listSessions(EXP)), plain(sessions));
      assert.deepEqual(await second.listExperiments(), experiments);
      const meta = await db.collection('stats_experiments').findOne({ _id: EXP as never });
      assert.deepEqual(meta?.writing, {}, 'the note is gone once repaired');
    } finally {
      await second.close();
    }
  });
});
