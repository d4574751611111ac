// Durability: starts the real server process (node --import tsx src/cli.ts serve) on each store
// (an SQLite file with the default SQLITE_SYNCHRONOUS=FULL; the MongoDB from MONGO_URL), sends
// hundreds of concurrent submissions (single events and batches, all with event_ids), kill -9s
// the server mid-stream, then opens the store directly and checks every acknowledged event is
// there, and that the session summaries equal the stored events; a restarted server then takes
// the same events again and stores each exactly once.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import type { Config } from '../../src/config/index.ts';
import { createStore } from '../../src/store/index.ts';
import type { EventStore } from '../../src/store/types.ts';
import { dashEvent } from '../helpers/events.ts';
import { startServerProcess } from '../helpers/server-process.ts';
import { storeFixtures } from '../helpers/stores.ts';
import { scaled, waitUntil } from '../helpers/wait.ts';

const EXP = 'durable';
const SINGLES = 600;
const BATCHES = 30;
const BATCH_SIZE = 10;
const KILL_AFTER_ACKS = 250;

interface Submission {
  path: string;
  body: unknown;
  ids: string[];
}

/**
 * Per-session counts and time spans from the stored events vs. the store's summaries. MongoDB
 * repairs an interrupted write once per process, before its first read of the experiment (the
 * events are read first), so polling would not change the answer; quiet() below makes sure
 * nothing of the killed process is still to land after that repair.
 */
async function summaryMismatch(store: EventStore): Promise<string | null> {
  const fromEvents = new Map<string, { n: number; first: number; last: number }>();
  for await (const page of store.readEvents({ experimentId: EXP })) {
    for (const e of page) {
      const k = String(e.session_key);
      const s = fromEvents.get(k) ?? { n: 0, first: e.timestamp, last: e.timestamp };
      s.n++;
      s.first = Math.min(s.first, e.timestamp);
      s.last = Math.max(s.last, e.timestamp);
      fromEvents.set(k, s);
    }
  }
  const rows = await store.listSessions(EXP);
  const sorted = (entries: Array<[string, number[]]>) =>
    JSON.stringify(entries.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  const got = sorted(rows.map((r) => [r.session_id, [r.count, r.first_timestamp, r.last_timestamp]]));
  const want = sorted([...fromEvents].map(([k, s]) => [k, [s.n, s.first, s.last]]));
  return got === want ? null : `summaries ${got} != events ${want}`;
}

/**
 * Waits until the database has stopped changing (MongoDB only; SQLite is one file the killed
 * process no longer touches). A server killed with -9 may have sent commands that MongoDB is
 * still running: a server does not cancel a command when its client disconnects. Read before
 * they land, the repair check (event count against the summaries' counts) passes or rebuilds,
 * and then the dead process's last insert lands without its summary update: summaries behind
 * the events that no later check repairs. Returns how long it took and how many changes it saw.
 */
async function quiet(config: Readonly<Config>): Promise<{ ms: number; changes: number }> {
  if (config.storage !== 'mongodb') return { ms: 0, changes: 0 };
  const t0 = Date.now();
  const client = new MongoClient(config.mongo.url);
  try {
    const db = client.db(config.mongo.database);
    // Summaries and notes in full (a few documents), events by count.
    const snapshot = async () => {
      const parts: unknown[] = [];
      const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
      for (const name of names) {
        const col = db.collection(name);
        parts.push(
          name,
          name.startsWith('stats_')
            ? await col
                .find({}, { projection: { qoe: 0 } })
                .sort({ _id: 1 })
                .toArray()
            : await col.countDocuments({}),
        );
      }
      return JSON.stringify(parts);
    };
    let last = await snapshot();
    let since = Date.now();
    let changes = 0;
    const quietMs = scaled(2000);
    await waitUntil(
      async () => {
        const now = await snapshot();
        if (now !== last) {
          changes++;
          last = now;
          since = Date.now();
        }
        return Date.now() - since;
      },
      (still) => still >= quietMs,
      {
        what: `the database to stay unchanged for ${quietMs} ms after the kill`,
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    return { ms: Date.now() - t0, changes };
  } finally {
    await client.close();
  }
}

function submissions(): Submission[] {
  const out: Submission[] = [];
  for (let i = 0; i < SINGLES; i++) {
    // Testbed runs (a stream_initialized every 100 events) and one explicit session.
    const shape =
      i % 100 === 0 ? { event_type: 'stream_initialized' } : i % 7 === 0 ? { session_id: 'explicit' } : {};
    out.push({
      path: '/api/submit',
      body: dashEvent(EXP, i, { event_id: `s-${i}`, ...shape }),
      ids: [`s-${i}`],
    });
    if (i % (SINGLES / BATCHES) === 0) {
      const k = out.length;
      const events = Array.from({ length: BATCH_SIZE }, (_, j) =>
        dashEvent(EXP, i + j / 100, { event_id: `b-${k}-${j}` }),
      );
      out.push({ path: '/api/submit/batch', body: events, ids: events.map((e) => e.event_id as string) });
    }
  }
  return out;
}

/** POSTs JSON; resolves with the status (0 when the connection failed) and the body. */
function post(agent: http.Agent, url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': data.length },
        timeout: scaled(20_000),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end(data);
  });
}

for (const fixture of storeFixtures()) {
  describe(`durability under kill -9 on ${fixture.name}`, { skip: fixture.skip }, () => {
    after(() => fixture.cleanup());

    test('every acknowledged event is stored after kill -9, and a restart stores retries once', async (t) => {
      const config = fixture.config();
      const env: Record<string, string> =
        config.storage === 'sqlite'
          ? { STORAGE: 'sqlite', DATA_DIR: config.dataDir }
          : { STORAGE: 'mongodb', MONGO_URL: config.mongo.url, MONGO_DATABASE: config.mongo.database };
      env.TIMESTAMP_CHECK = 'off'; // events at t = 0, 1, 2 s
      const server = await startServerProcess(env);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      const all = submissions();
      const acked = new Set<string>();
      let acks = 0;
      let killed = false;
      const replies = await Promise.all(
        all.map(async (s) => {
          const res = await post(agent, server.base + s.path, s.body);
          if (res.status === 200) {
            for (const id of s.ids) acked.add(id);
            if (++acks >= KILL_AFTER_ACKS && !killed) {
              killed = true;
              server.child.kill('SIGKILL');
            }
          }
          return res;
        }),
      );
      agent.destroy();
      assert.equal(await server.exited, 'SIGKILL', 'the server was killed, not finished');
      const failed = replies.filter((r) => r.status !== 200).length;
      assert.ok(failed > 0, 'the kill happened while submissions were in flight');
      assert.ok(acked.size >= KILL_AFTER_ACKS);
      for (const r of replies)
        if (r.status !== 0 && r.status !== 200) assert.fail(`unexpected reply ${r.status} ${r.body}`);

      const settled = await quiet(config);
      t.diagnostic(`database quiet ${settled.ms} ms after the kill (${settled.changes} late changes seen)`);
      const store = createStore(config);
      await store.open();
      const stored: string[] = [];
      try {
        for await (const page of store.readEvents({ experimentId: EXP })) {
          for (const e of page) stored.push(e.event_id as string);
        }
        assert.equal(await summaryMismatch(store), null, 'summaries equal the stored events after kill -9');
      } finally {
        await store.close();
      }
      const storedSet = new Set(stored);
      assert.equal(storedSet.size, stored.length, 'no event is stored twice');
      t.diagnostic(
        `${acked.size} events acknowledged, ${failed} requests cut off, ${stored.length} events stored`,
      );
      const lost = [...acked].filter((id) => !storedSet.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged events were lost`);

      // Clients retry whatever was not acknowledged (and some that were): each stored once.
      const again = await startServerProcess(env);
      const agent2 = new http.Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const retried = await Promise.all(all.map((s) => post(agent2, again.base + s.path, s.body)));
        for (const r of retried) assert.equal(r.status, 200, r.body);
        const total = all.reduce((n, s) => n + s.ids.length, 0);
        const count = await new Promise<number>((resolve, reject) => {
          http
            .get(`${again.base}/api/metrics/${EXP}`, (r) => {
              let text = '';
              r.on('data', (c) => {
                text += c;
              });
              r.on('end', () => resolve(JSON.parse(text).count));
            })
            .on('error', reject);
        });
        assert.equal(count, total);
      } finally {
        agent2.destroy();
        await again.stop();
      }
      assert.equal(await again.exited, 0, 'the restarted server shut down cleanly (not killed at the grace)');
      await quiet(config);
      const final = createStore(config);
      await final.open();
      try {
        assert.equal(await summaryMismatch(final), null, 'summaries equal the stored events after retries');
        assert.ok((await final.listSessions(EXP)).length >= 7, 'testbed runs are split into sessions');
      } finally {
        await final.close();
      }
    });
  });
}
