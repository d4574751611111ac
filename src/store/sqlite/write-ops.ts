/**
 * Every write of the embedded store, run on the writer thread (writer-thread.ts) with its own
 * connection: inserting events, folding them into sessions (the compaction), deleting an
 * experiment, caching a session's QoE, and rebuilding summaries from the events.
 *
 * Inserts decide each event's session once (src/sessions/key.ts) and store it in the event's
 * row. Events of fallback keys are placed in runs by the session engine's planner
 * (src/sessions/plan.ts), whose plan split-ops.ts executes in the events' transaction: run
 * summaries change there (the next event's run depends on them). The summaries of explicit
 * sessions and their index follow in the compaction (compaction.ts), which every read of them
 * runs first.
 */
import type Database from 'libsql';
import { type BaseKey, baseSessionKey, type SessionSource } from '../../sessions/key.ts';
import { type BaseState, GroupPlanner, type PlanEvent } from '../../sessions/plan.ts';
import { keyAt, type RunRole, runIndexAt, runRoleOf, startsOfPoints } from '../../sessions/runs.ts';
import { addToDelta, type Delta, newDelta } from '../../sessions/summary.ts';
import type { InsertResult, RebuildResult } from '../types.ts';
import { compactTail, type OwnInserts, SummaryFold, upsertDelta } from './compaction.ts';
import type { PreparedRows, WriterRow } from './rows.ts';
import { SplitOps } from './split-ops.ts';
import { prepareStatements, type Statements } from './statements.ts';

type Db = InstanceType<typeof Database>;

const nowS = () => Date.now() / 1000;

/**
 * Runs fn in an IMMEDIATE transaction. Unlike libsql's transaction(), a failed ROLLBACK (SQLite
 * already rolled back after SQLITE_FULL, say) never hides the error that caused it.
 */
function immediate<T>(db: Db, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // no transaction left to roll back: keep the original error
    }
    throw err;
  }
}

export class WriteOps {
  readonly #db: Db;
  readonly #gapS: number;
  readonly #s: Statements;
  readonly #split: SplitOps;
  /** This connection's inserts since its last compaction (compaction.ts). */
  #own: OwnInserts | undefined;
  /** Base states of the transaction under way, kept once it commits. */
  #pending: Array<{ exp: string; st: BaseState }> = [];

  constructor(db: Db, gapS: number) {
    this.#db = db;
    this.#gapS = gapS;
    this.#s = prepareStatements(db);
    this.#split = new SplitOps(db, this.#s);
  }

  /** Inserts events (and the runs of fallback keys) in one IMMEDIATE transaction. */
  insert(p: PreparedRows): InsertResult {
    const explicit: number[] = [];
    let mark = 0;
    this.#pending = [];
    let r: InsertResult;
    try {
      r = immediate(this.#db, () => {
        if (!this.#own) mark = (this.#s.mark.get() as { seq: number }).seq;
        return this.#insertAll(p, explicit);
      });
    } catch (err) {
      // What was read for the rolled-back group may no longer hold.
      this.#split.forget();
      throw err;
    }
    for (const { exp, st } of this.#pending) this.#split.keep(exp, st);
    this.#pending = [];
    // Only once committed: the fold must hold stored events only.
    const own = this.#own ?? { mark, events: 0, fold: new SummaryFold() };
    this.#own = own;
    own.events += r.inserted;
    for (const i of explicit) {
      const row = p.rows[i] as WriterRow;
      own.fold.add({
        id: row[0],
        experiment_id: row[1],
        session_key: row[9] as string,
        timestamp: row[3],
        video_id: row[6],
        protocol: p.protocols[i],
      });
    }
    return r;
  }

  /** Events this connection stored since its last compaction (the thread's trigger). */
  get uncompacted(): number {
    return this.#own?.events ?? 0;
  }

  /** Folds every stored event after the mark (compaction.ts); returns how many. */
  compact(): number {
    // Nothing after the mark (the usual answer to a read): no write transaction to take.
    const mark = (this.#s.mark.get() as { seq: number }).seq;
    const newest = (this.#s.newest.get() as { m: number | null }).m;
    if (newest === null || newest <= mark) {
      this.#own = undefined;
      return 0;
    }
    return immediate(this.#db, () => this.#compactNow(nowS()));
  }

  /** The compaction, inside the caller's write transaction. */
  #compactNow(changedAt: number): number {
    const own = this.#own;
    this.#own = undefined;
    return compactTail(this.#s, changedAt, own);
  }

  #insertAll(p: PreparedRows, explicit: number[]): InsertResult {
    this.#split.checkOthers();
    const duplicates: number[] = [];
    let inserted = 0;
    const types = new Set<string>();
    const changedAt = nowS();
    // Split events by experiment, planned together; explicit ones are plain inserts.
    const byExp = new Map<string, number[]>();
    const seen = new Set<string>();
    for (let i = 0; i < p.rows.length; i++) {
      const row = p.rows[i] as WriterRow;
      if (row[10] === null) {
        if (this.#s.insert.run(...row).changes === 0) {
          duplicates.push(i);
          continue;
        }
        explicit.push(i);
        inserted++;
        types.add(`${row[1]}\u0000${row[4]}`);
        continue;
      }
      // Duplicates first: a retried event must not be placed again.
      const eventId = row[2];
      if (eventId !== null) {
        const k = `${row[1]}\u0000${eventId}`;
        if (seen.has(k) || this.#s.known.get(row[1], eventId)) {
          duplicates.push(i);
          continue;
        }
        seen.add(k);
      }
      const list = byExp.get(row[1]);
      if (list) list.push(i);
      else byExp.set(row[1], [i]);
    }
    for (const [exp, idx] of byExp) {
      const evs: PlanEvent[] = idx.map((i) => {
        const row = p.rows[i] as WriterRow;
        return {
          id: row[0],
          timestamp: row[3],
          bk: { base: row[10] as string, source: p.sources[i] as SessionSource, split: true },
          role: p.roles[i] as RunRole,
          video_id: row[6],
          protocol: p.protocols[i],
        };
      });
      const states = new Map<string, BaseState>();
      for (const e of evs)
        if (!states.has(e.bk.base)) states.set(e.bk.base, this.#split.state(exp, e.bk.base, e.bk.source));
      const planner = new GroupPlanner(this.#gapS, states);
      for (const m of planner.missingWindows(evs))
        planner.addWindow(m.base, this.#split.window(exp, m.base, m.t));
      const plan = planner.plan(evs);
      idx.forEach((i, n) => {
        const row = p.rows[i] as WriterRow;
        row[9] = plan.keys[n] as string;
        this.#s.insert.run(...row);
        inserted++;
        types.add(`${row[1]}\u0000${row[4]}`);
      });
      for (const b of plan.bases) this.#split.execute(exp, b, changedAt);
      for (const d of plan.deltas) upsertDelta(this.#s, exp, d, changedAt);
      for (const b of plan.bases) this.#pending.push({ exp, st: b.next });
    }
    for (const t of types) {
      const [exp, type] = t.split('\u0000') as [string, string];
      this.#s.types.run(exp, type);
    }
    return { inserted, duplicates };
  }

  /** Caches a session's QoE, unless an event changed the session since `version` was read. */
  saveQoe(exp: string, key: string, version: number, qoe: string): boolean {
    return this.#s.saveQoe.run(qoe, exp, key, version).changes > 0;
  }

  /**
   * Removes a chunk of an experiment's events and index rows (chunks, so other writes
   * interleave), and its summaries with the last chunk. Compacts first: the mark then drops to
   * the newest seq left, which is only right when everything up to it was folded.
   */
  deleteChunk(exp: string, chunk: number): { events: number; done: boolean } {
    this.#split.forget();
    return immediate(this.#db, () => {
      this.#compactNow(nowS());
      const events = this.#db
        .prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE experiment_id = ? LIMIT ?)')
        .run(exp, chunk).changes;
      const indexed = this.#db
        .prepare(`DELETE FROM session_events WHERE (experiment_id, session_key, timestamp, id) IN
          (SELECT experiment_id, session_key, timestamp, id FROM session_events WHERE experiment_id = ? LIMIT ?)`)
        .run(exp, chunk).changes;
      const done = events < chunk && indexed < chunk;
      if (done) {
        this.#db.prepare('DELETE FROM sessions WHERE experiment_id = ?').run(exp);
        this.#db.prepare('DELETE FROM experiment_types WHERE experiment_id = ?').run(exp);
      }
      this.#s.lowerMark.run();
      return { events, done };
    });
  }

  /**
   * Re-derives every stored session key, summary and index row of one experiment (or all) from
   * the events: after a migration, or on demand (`stats-server rebuild-summaries`).
   */
  rebuild(only?: string): RebuildResult {
    const exps =
      only !== undefined
        ? [only]
        : (this.#db.prepare('SELECT DISTINCT experiment_id AS e FROM events').all() as { e: string }[]).map(
            (r) => r.e,
          );
    const out: RebuildResult = { experiments: 0, sessions: 0, events: 0 };
    for (const exp of exps) {
      const r = immediate(this.#db, () => this.#rebuildOne(exp));
      out.experiments++;
      out.sessions += r.sessions;
      out.events += r.events;
    }
    return out;
  }

  #rebuildOne(exp: string): { sessions: number; events: number } {
    const db = this.#db;
    const changedAt = nowS();
    this.#split.forget();
    // Fold what came before, so that the rows written here are not folded again.
    this.#compactNow(changedAt);
    const rows = db
      .prepare(
        `SELECT seq, id, timestamp, event_type, session_id, video_id, json_extract(doc, '$.protocol') AS protocol,
           CASE WHEN session_id IS NULL OR session_id = '' THEN json_extract(doc, '$.payload') END AS payload
         FROM events WHERE experiment_id = ? ORDER BY seq`,
      )
      .iterate(exp) as Iterable<{
      seq: number;
      id: string;
      timestamp: number;
      event_type: string;
      session_id: string | null;
      video_id: string;
      protocol: unknown;
      payload: string | null;
    }>;
    type Ev = {
      seq: number;
      id: string;
      timestamp: number;
      video_id: string;
      protocol: unknown;
      t: number;
      role: RunRole;
    };
    const byBase = new Map<string, { bk: BaseKey; evs: Ev[] }>();
    let events = 0;
    for (const r of rows) {
      events++;
      const payload = r.payload === null ? undefined : (JSON.parse(r.payload) as unknown);
      const bk = baseSessionKey({ session_id: r.session_id, video_id: r.video_id, payload });
      const id = `${bk.split ? 's' : 'e'}\u0000${bk.base}`;
      let b = byBase.get(id);
      if (!b) {
        b = { bk, evs: [] };
        byBase.set(id, b);
      }
      const role = bk.split ? runRoleOf({ event_type: r.event_type, payload }) : 0;
      b.evs.push({ ...r, t: r.timestamp, role: role as RunRole });
    }
    const set = db.prepare('UPDATE events SET session_key = ?, session_base = ? WHERE seq = ?');
    db.prepare('DELETE FROM sessions WHERE experiment_id = ?').run(exp);
    db.prepare('DELETE FROM session_events WHERE experiment_id = ?').run(exp);
    let sessions = 0;
    for (const { bk, evs } of byBase.values()) {
      const starts = bk.split ? startsOfPoints(evs, this.#gapS) : [];
      // Every summary from the one delta rule (src/sessions/summary.ts), as ingest makes them.
      const deltas = new Map<string, Delta>();
      for (const e of evs) {
        const key = bk.split ? keyAt(bk.base, starts, e.t) : bk.base;
        set.run(key, bk.split ? bk.base : null, e.seq);
        const d = deltas.get(key);
        if (d) addToDelta(d, e, e.id);
        else deltas.set(key, newDelta(key, bk, bk.split ? runIndexAt(starts, e.t) + 1 : 1, e, e.id));
      }
      for (const d of deltas.values()) upsertDelta(this.#s, exp, d, changedAt);
      sessions += deltas.size;
    }
    db.prepare(
      `INSERT INTO session_events (experiment_id, session_key, timestamp, id, seq)
       SELECT experiment_id, session_key, timestamp, id, seq FROM events
       WHERE experiment_id = ? AND session_base IS NULL ORDER BY 1, 2, 3, 4`,
    ).run(exp);
    db.prepare('DELETE FROM experiment_types WHERE experiment_id = ?').run(exp);
    db.prepare(
      'INSERT OR IGNORE INTO experiment_types SELECT DISTINCT experiment_id, event_type FROM events WHERE experiment_id = ?',
    ).run(exp);
    return { sessions, events };
  }
}
