// Stateless instances: two server processes on one MongoDB take one CMCD session's reports in
// turn (only the first carries cid and sf); every stored event carries the session's content
// id and format, and the same event_id sent to both at once is stored once. Starts FerretDB's
// MongoDB (from the test runner) and two real server processes.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startServerProcess } from './helpers/server-process.ts';
import { mongoFixture } from './helpers/stores.ts';

const fixture = mongoFixture();

async function post(base: string, path: string, body: string, type = 'application/cmcd') {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, body: await res.json() };
}

describe('CMCD reports of one session across two instances', { skip: fixture.skip }, () => {
  after(() => fixture.cleanup());

  test('every stored event carries the content id and format; one event_id stored once', async () => {
    const config = fixture.config();
    const env = {
      STORAGE: 'mongodb',
      MONGO_URL: config.mongo.url,
      MONGO_DATABASE: config.mongo.database,
      TIMESTAMP_CHECK: 'off',
      LOG_LEVEL: 'warn',
    };
    const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    try {
      const ts = 1_750_000_000_000;
      const line = (sn: number, extra: string) => `e=t,sid="s1",sn=${sn},ts=${ts + sn * 1000},v=2${extra}`;
      // Only the first report names the content and the streaming format.
      const first = await post(a.base, '/api/cmcd/cm_two', `${line(0, ',cid="movie-1",sf=d,bl=4000')}\n`);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      for (let sn = 1; sn <= 6; sn++) {
        const to = sn % 2 === 1 ? b : a;
        const r = await post(to.base, '/api/cmcd/cm_two', `${line(sn, `,bl=${4000 + sn}`)}\n`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      const read = (await (await fetch(`${a.base}/api/metrics/cm_two`)).json()) as {
        metrics: Array<{ video_id: string; protocol: string }>;
      };
      assert.equal(read.metrics.length, 7);
      for (const e of read.metrics) {
        assert.equal(e.video_id, 'movie-1');
        assert.equal(e.protocol, 'dash');
      }

      // One report (one event_id) sent to both instances at the same moment.
      const same = `${line(100, ',bl=1')}\n`;
      const both = await Promise.all([
        post(a.base, '/api/cmcd/cm_two', same),
        post(b.base, '/api/cmcd/cm_two', same),
      ]);
      for (const r of both) assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(
        both.reduce((n, r) => n + (r.body as { stored: number }).stored, 0),
        1,
        'stored by exactly one instance',
      );
      const count = ((await (await fetch(`${b.base}/api/metrics/cm_two`)).json()) as { count: number }).count;
      assert.equal(count, 8);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
