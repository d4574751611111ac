// Session summaries on every store: random sessions in all dialects (testbed runs keyed by
// video_id, reporter and CMCD sessions), stored in random order and random batch splits
// through the group committer, must give the sessions, counts, time spans and QoE that a full
// recomputation over the same events gives; testbed re-runs come out as separate sessions;
// delete removes summaries; rebuild gives the same rows. Starts the app on each store.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { buildApp } from '../../src/app.ts';
import type { EventDoc, StoredEvent } from '../../src/events/schema.ts';
import { computeSessionQoe } from '../../src/qoe/index.ts';
import { baseSessionKey } from '../../src/sessions/key.ts';
import { keyAt, type RunPoint, runRoleOf, startsOfPoints } from '../../src/sessions/runs.ts';
import { experimentArb, type GenEvent } from '../helpers/sessions-gen.ts';
import { storeFixtures } from '../helpers/stores.ts';

type Gen = GenEvent;

/** The session every event must land in, from the whole set (the rule of src/sessions/). */
function expectedKeys(events: readonly Gen[], gapS: number): string[] {
  const bases = events.map((e) => baseSessionKey(e));
  const points = new Map<string, RunPoint[]>();
  events.forEach((e, i) => {
    const b = bases[i]!;
    if (!b.split) return;
    const list = points.get(b.base) ?? [];
    list.push({ t: e.timestamp, role: runRoleOf(e) });
    points.set(b.base, list);
  });
  const starts = new Map([...points].map(([b, p]) => [b, startsOfPoints(p, gapS)]));
  return events.map((e, i) => {
    const b = bases[i]!;
    return b.split ? keyAt(b.base, starts.get(b.base)!, e.timestamp) : b.base;
  });
}

let expSeq = 0;

for (const fixture of storeFixtures()) {
  describe(`session summaries on ${fixture.name}`, { skip: fixture.skip }, () => {
    after(() => fixture.cleanup());

    test('equal a full recomputation, whatever the arrival order and batching', async () => {
      const app = await buildApp(fixture.config({ SESSION_SUMMARIZE_AFTER_MS: '0' }));
      try {
        await fc.assert(
          fc.asyncProperty(
            experimentArb,
            fc.array(fc.nat(), { minLength: 300, maxLength: 300 }),
            fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 60, maxLength: 60 }),
            async (sessions, order, cuts) => {
              const exp = `prop_${fixture.name}_${++expSeq}`;
              const events: Gen[] = sessions.flatMap((s) => s.events);
              events.forEach((e, i) => {
                e.payload = { ...e.payload, gen_i: i };
                // Empty and "unknown" videos, empty protocols: the summary rule must skip them.
                const r = order[(i * 7) % order.length]! % 11;
                if (r === 0) e.video_id = '';
                else if (r === 1) e.video_id = 'unknown';
                else if (r === 2) e.protocol = '';
              });
              const shuffled = events
                .map((e, i) => ({ e, k: order[i % order.length]! * 1000 + i }))
                .sort((a, b) => a.k - b.k)
                .map((x) => x.e);
              const batches: EventDoc[][] = [];
              for (let i = 0, c = 0; i < shuffled.length; c++) {
                const n = cuts[c % cuts.length]!;
                batches.push(
                  shuffled
                    .slice(i, i + n)
                    .map((e) => ({ ...e, experiment_id: exp, stored_at: new Date() }) as EventDoc),
                );
                i += n;
              }
              // Up to three batches in flight at once, as concurrent requests would be.
              for (let i = 0; i < batches.length; i += 3) {
                await Promise.all(batches.slice(i, i + 3).map((b) => app.ingest.submit(b)));
              }

              const keys = expectedKeys(events, app.config.sessions.splitGapS);
              const byKey = new Map<string, number[]>();
              keys.forEach((k, i) => {
                byKey.set(k, [...(byKey.get(k) ?? []), i]);
              });

              const list = await app.inject(`/api/experiments/${exp}/sessions`);
              assert.equal(list.statusCode, 200, list.body);
              const rows = list.json().sessions as Array<Record<string, unknown>>;
              assert.deepEqual(rows.map((r) => r.session_id).sort(), [...byKey.keys()].sort());
              for (const r of rows) {
                const idx = byKey.get(String(r.session_id))!;
                const ts = idx.map((i) => events[i]!.timestamp);
                assert.equal(r.count, idx.length, `count of ${r.session_id}`);
                assert.equal(r.first_timestamp, Math.min(...ts));
                assert.equal(r.last_timestamp, Math.max(...ts));
                // Video and protocol by the one rule: the earliest known one (ties: either).
                const known = (pick: (e: Gen) => string, ok: (v: string) => boolean) => {
                  const evs = idx.map((i) => events[i]!).filter((e) => ok(pick(e)));
                  if (evs.length === 0) return null;
                  const t0 = Math.min(...evs.map((e) => e.timestamp));
                  return new Set(evs.filter((e) => e.timestamp === t0).map(pick));
                };
                const videos = known(
                  (e) => e.video_id,
                  (v) => v !== '' && v !== 'unknown',
                );
                assert.ok(
                  videos ? videos.has(String(r.video_id)) : r.video_id === 'unknown',
                  `video of ${r.session_id}`,
                );
                const protocols =
                  known(
                    (e) => e.protocol,
                    (p) => p !== '' && p !== 'cmcd',
                  ) ??
                  known(
                    (e) => e.protocol,
                    () => true,
                  );
                assert.ok(protocols?.has(String(r.protocol)), `protocol of ${r.session_id}: ${r.protocol}`);
              }

              for (const round of ['computed', 'cached']) {
                const qoe = await app.inject(`/api/experiments/${exp}/qoe`);
                assert.equal(qoe.statusCode, 200, qoe.body);
                for (const s of qoe.json().sessions as Array<{
                  session_id: string;
                  video_id: string;
                  protocol: string;
                }>) {
                  // The QoE reply and the sessions list agree on every field they share.
                  const listed = rows.filter((r) => r.session_id === s.session_id);
                  assert.ok(
                    listed.some((r) => r.video_id === s.video_id && r.protocol === s.protocol),
                    `QoE and list agree on ${s.session_id}`,
                  );
                  const read = await app.inject(
                    `/api/metrics/${exp}?session_id=${encodeURIComponent(s.session_id)}`,
                  );
                  const got = read.json().metrics as StoredEvent[];
                  // the session holds exactly the events the rule puts there
                  assert.deepEqual(
                    got.map((e) => (e.payload as { gen_i: number }).gen_i).sort((a, b) => a - b),
                    byKey.get(s.session_id),
                    `events of ${s.session_id}`,
                  );
                  // The reply numbers runs and gives their start (qoe-table.ts): not QoE figures.
                  const {
                    run: _run,
                    started_unix_s: _start,
                    ...figures
                  } = s as typeof s & {
                    run?: number;
                    started_unix_s?: number;
                  };
                  assert.deepEqual(
                    figures,
                    computeSessionQoe(got, { sessionId: s.session_id }),
                    `${round} QoE`,
                  );
                }
              }
            },
          ),
          { numRuns: 6, seed: 42 },
        );
      } finally {
        await app.close();
      }
    });

    test('three testbed runs under one experiment id are three sessions with their own figures', async () => {
      const app = await buildApp(fixture.config());
      try {
        const exp = `tb_rerun_${fixture.name}`;
        const MPD = 'http://media/live/manifest.mpd';
        const T = 1_750_000_000;
        const post = (t: number, event_type: string, payload: Record<string, unknown>) =>
          app.inject({
            method: 'POST',
            url: '/api/submit',
            payload: {
              experiment_id: exp,
              timestamp: t,
              event_type,
              protocol: 'dash',
              video_id: MPD,
              payload,
            },
          });
        // Runs 60 s apart (less than the silence rule): only stream_initialized splits them.
        for (const [run, stall] of [
          [0, false],
          [1, true],
          [2, false],
        ] as const) {
          const t0 = T + run * 60;
          await post(t0, 'stream_initialized', { mpd_url: MPD });
          await post(t0 + 0.5, 'quality_change_rendered', { new_quality: run, bitrate: (run + 1) * 1e6 });
          await post(t0 + 1, 'playback_started', { mpd_url: MPD });
          await post(t0 + 1, 'playback_state_changed', { old_state: 'playing', new_state: 'playing' });
          await post(t0 + 2, 'buffer_level_updated', { buffer_level: 4, media_type: 'video' });
          if (stall) {
            await post(t0 + 9.5, 'buffer_level_updated', { buffer_level: 0.5, media_type: 'video' });
            await post(t0 + 10, 'buffer_level_updated', { buffer_level: 0, media_type: 'video' });
            await post(t0 + 13, 'buffer_level_updated', { buffer_level: 3, media_type: 'video' });
          }
          await post(t0 + 30, 'playback_ended', { total_rebuffers: stall ? 1 : 0 });
        }
        const list = (await app.inject(`/api/experiments/${exp}/sessions`)).json();
        assert.deepEqual(
          list.sessions.map((s: { session_id: string }) => s.session_id),
          [MPD, `${MPD}#2`, `${MPD}#3`],
        );
        const qoe = (await app.inject(`/api/experiments/${exp}/qoe`)).json();
        assert.deepEqual(
          qoe.sessions.map((s: { stall_count: number }) => s.stall_count),
          [0, 1, 0],
        );
        assert.equal(qoe.sessions[1].stall_time_s, 3);
        assert.deepEqual(
          qoe.sessions.map((s: { avg_bitrate_bps: number }) => s.avg_bitrate_bps),
          [1e6, 2e6, 3e6],
        );
        assert.equal(qoe.aggregate.stall_count.n, 3);
        const run2 = (
          await app.inject(`/api/metrics/${exp}?session_id=${encodeURIComponent(`${MPD}#2`)}`)
        ).json();
        assert.equal(run2.count, 9);
        const exps = (await app.inject('/api/experiments')).json().experiments;
        assert.equal(exps.find((e: { experiment_id: string }) => e.experiment_id === exp).sessions, 3);
        // A late event of run 1 still lands in run 1.
        await post(T + 20, 'buffer_level_updated', { buffer_level: 5, media_type: 'video' });
        const after1 = (await app.inject(`/api/experiments/${exp}/sessions`)).json();
        assert.deepEqual(
          after1.sessions.map((s: { count: number }) => s.count),
          [7, 9, 6],
        );
      } finally {
        await app.close();
      }
    });

    test("a session's video is its earliest known video_id, on every store and after a rebuild", async () => {
      const app = await buildApp(fixture.config());
      try {
        const exp = `video_${fixture.name}`;
        const ev = (t: number, video_id: string) =>
          ({
            experiment_id: exp,
            timestamp: 1_750_000_000 + t,
            event_type: 'cmcd_t',
            protocol: 'cmcd',
            video_id,
            session_id: 's',
            payload: {},
            stored_at: new Date(),
          }) as EventDoc;
        // Stored out of order: the first report names no content; a later one, then an earlier one, do.
        await app.ingest.submit([ev(0, 'unknown'), ev(5, 'movie-b')]);
        await app.ingest.submit([ev(3, 'movie-a')]);
        const video = async () => (await app.store.listSessions(exp))[0]?.video_id;
        assert.equal(await video(), 'movie-a');
        await app.store.rebuildSummaries(exp);
        assert.equal(await video(), 'movie-a');
      } finally {
        await app.close();
      }
    });

    test('delete removes summaries; rebuild gives the same rows', async () => {
      const app = await buildApp(fixture.config({ ALLOW_UNAUTHENTICATED_ADMIN: 'true' }));
      try {
        const exp = `rebuild_${fixture.name}`;
        const docs: EventDoc[] = [];
        for (let i = 0; i < 40; i++) {
          docs.push({
            experiment_id: exp,
            timestamp: 1_750_000_000 + i * (i === 20 ? 2000 : 1),
            event_type: i % 10 === 0 ? 'stream_initialized' : 'periodic_metrics',
            protocol: 'dash',
            video_id: 'v.mpd',
            payload: { buffer_level: i % 7 },
            ...(i % 3 === 0 ? { session_id: `s${i % 2}` } : {}),
            stored_at: new Date(),
          });
        }
        await app.ingest.submit(docs);
        const before = (await app.inject(`/api/experiments/${exp}/sessions`)).json().sessions;
        const r = await app.store.rebuildSummaries(exp);
        assert.equal(r.events, 40);
        const rebuilt = (await app.inject(`/api/experiments/${exp}/sessions`)).json().sessions;
        assert.deepEqual(rebuilt, before);
        const del = await app.inject({ method: 'DELETE', url: `/api/experiments/${exp}` });
        assert.equal(del.statusCode, 200);
        assert.equal((await app.inject(`/api/experiments/${exp}/sessions`)).statusCode, 404);
        assert.deepEqual(await app.store.listSessions(exp), []);
        const exps = (await app.inject('/api/experiments')).json().experiments;
        assert.ok(!exps.some((e: { experiment_id: string }) => e.experiment_id === exp));
      } finally {
        await app.close();
      }
    });
  });
}
