// The protocol of a CMCD session whose first reports predate the player's knowledge of `sf`
// (dash.js, Shaka): POST /api/cmcd/:id, then GET /api/experiments/:id/sessions and /qoe through
// app.inject() on every store (an SQLite file, the MongoDB of MONGO_URL). The session says
// "dash" in both, a session that never learns its format says "cmcd", and QoE reads the
// dash.js startup wait as startup. Starts the app on each store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { cmcdTs } from './helpers/qoe.ts';
import { storeFixtures } from './helpers/stores.ts';

const T0 = 1_764_752_400;
const ts = (s: number) => cmcdTs(s, T0);
const MPD = 'http://127.0.0.1/media/manifest.mpd';

/** dash.js 5.2's first reports of a session (arrival order): no sf before the manifest. */
const DASH = [
  `e=t,sid="d1",sn=0,ts=${ts(0)},v=2`,
  `e=ps,msd=2,sid="d1",sn=1,sta=s,ts=${ts(0.004)},v=2`,
  `e=rr,ot=m,rc=200,sid="d1",sn=2,sta=s,ts=${ts(0.003)},ttlb=60,url="${MPD}",v=2`,
  `bl=(0;v 0;a),br=(800;v 128;a),e=ps,sf=d,sid="d1",sn=3,st=v,sta=r,ts=${ts(0.3)},v=2`,
  `bl=(4000;v 3900;a),br=(800;v 128;a),e=ps,sf=d,sid="d1",sn=4,st=v,sta=p,ts=${ts(1.1)},v=2`,
  `e=t,sf=d,sid="d1",sn=5,st=v,sta=p,ts=${ts(2)},v=2`,
  `bl=(1000;v 900;a),e=ps,sf=d,sid="d1",sn=6,st=v,sta=e,ts=${ts(10)},v=2`,
];
/** A session that never reports its format (Shaka's release bundle before the manifest). */
const UNKNOWN = [`e=t,sid="u1",sn=0,ts=${ts(5)},v=2`, `br=(800),e=bc,sid="u1",sn=1,ts=${ts(6)},v=2`];

for (const fixture of storeFixtures()) {
  describe(`CMCD session protocol on ${fixture.name}`, { skip: fixture.skip }, () => {
    let app: FastifyInstance;

    before(async () => {
      app = await buildApp(fixture.config());
      const res = await app.inject({
        method: 'POST',
        url: '/api/cmcd/cmcd-proto',
        payload: [...DASH, ...UNKNOWN].join('\n'),
        headers: { 'content-type': 'application/cmcd' },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().stored, DASH.length + UNKNOWN.length);
    });
    after(async () => {
      await app?.close();
      await fixture.cleanup();
    });

    test('the sessions list names the first protocol that is not "cmcd", else "cmcd"', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/experiments/cmcd-proto/sessions' });
      assert.equal(res.statusCode, 200, res.body);
      const sessions = res.json().sessions as Array<{ session_id: string; protocol: string; count: number }>;
      assert.deepEqual(
        sessions.map((s) => [s.session_id, s.protocol, s.count]),
        [
          ['d1', 'dash', DASH.length],
          ['u1', 'cmcd', UNKNOWN.length],
        ],
      );
      const stored = await app.inject({ method: 'GET', url: '/api/metrics/cmcd-proto?session_id=d1' });
      assert.equal(stored.json().metrics[0].protocol, 'cmcd', 'the first events themselves keep "cmcd"');
    });

    test('QoE names the same protocols; the startup wait is startup, not a stall', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/experiments/cmcd-proto/qoe' });
      assert.equal(res.statusCode, 200, res.body);
      const [d1, u1] = res.json().sessions;
      assert.deepEqual(
        [d1.session_id, d1.protocol, u1.session_id, u1.protocol],
        ['d1', 'dash', 'u1', 'cmcd'],
      );
      assert.equal(d1.stall_count, 0);
      assert.ok(Math.abs(d1.startup_time_s - 1.096) < 1e-6, `startup ${d1.startup_time_s}`);
    });
  });
}
