/**
 * Every write of the embedded store, run on the writer thread (writer-thread.ts) with its own
 * connection: inserting events, folding them into sessions (the compaction), deleting an
 * experiment, caching a session's QoE, and rebuilding summaries from the events.
 *
 * Inserts decide each event's session once (src/sessions/key.ts) and store it in the event's
 * row; events of fallback keys are split into runs (src/sessions/runs.ts), which may move
 * stored events of that base to another run when a late event changes where runs start. Run
 * summaries change in the events' transaction (the next event's run depends on them); the
 * summaries of explicit sessions and the session index follow in the compaction
 * (compaction.ts), which every read of them runs first.
 */
import type Database from 'libsql';
import {
  type BaseKey,
  baseSessionKey,
  RUN_START_EVENT,
  runKey,
  type SessionSource,
} from '../../sessions/key.ts';
import { keyAt, nextStarts, rekeys, runIndexAt, startsOf } from '../../sessions/runs.ts';
import { newDelta, UNKNOWN_VIDEO } from '../../sessions/summary.ts';
import type { InsertResult, RebuildResult } from '../types.ts';
import { compactTail, type OwnInserts, SummaryFold, upsertDelta, upsertFold } from './compaction.ts';
import type { PreparedRows, WriterRow } from './rows.ts';
import { prepareStatements, type Statements } from './statements.ts';

type Db = InstanceType<typeof Database>;

/** A split base's run starts and latest timestamp, read once per group. */
interface BaseState {
  starts: number[];
  lastTs: number;
}

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
  /** This connection's inserts since its last compaction (compaction.ts). */
  #own: OwnInserts | undefined;

  constructor(db: Db, gapS: number) {
    this.#db = db;
    this.#gapS = gapS;
    this.#s = prepareStatements(db);
  }

  /** Inserts events (and the runs of fallback keys) in one IMMEDIATE transaction. */
  insert(p: PreparedRows): InsertResult {
    const explicit: number[] = [];
    let mark = 0;
    const r = immediate(this.#db, () => {
      if (!this.#own) mark = (this.#s.mark.get() as { seq: number }).seq;
      return this.#insertAll(p, explicit);
    });
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
    const duplicates: number[] = [];
    let inserted = 0;
    const bases = new Map<string, BaseState>();
    const types = new Set<string>();
    const changedAt = nowS();
    for (let i = 0; i < p.rows.length; i++) {
      const row = p.rows[i] as WriterRow;
      const split = row[10] !== null;
      const ok = split
        ? this.#insertSplit(row, p.protocols[i] as string, p.sources[i] as SessionSource, bases, changedAt)
        : this.#s.insert.run(...row).changes > 0;
      if (!ok) {
        duplicates.push(i);
        continue;
      }
      if (!split) explicit.push(i);
      inserted++;
      types.add(`${row[1]}\u0000${row[4]}`);
    }
    for (const t of types) {
      const [exp, type] = t.split('\u0000') as [string, string];
      this.#s.types.run(exp, type);
    }
    return { inserted, duplicates };
  }

  /** A fallback-keyed event: find its run (maybe moving others), store it, update summaries. */
  #insertSplit(
    row: WriterRow,
    protocol: string,
    source: SessionSource,
    bases: Map<string, BaseState>,
    changedAt: number,
  ): boolean {
    const [, exp, , t, eventType, , videoId] = row;
    const bk: BaseKey = { base: row[10] as string, source, split: true };
    const id = `${exp}\u0000${bk.base}`;
    let st = bases.get(id);
    if (!st) {
      const rows = this.#s.runs.all(exp, bk.base) as { first_ts: number; last_ts: number }[];
      st = {
        starts: rows.map((r) => r.first_ts),
        lastTs: rows.reduce((m, r) => Math.max(m, r.last_ts), Number.NEGATIVE_INFINITY),
      };
      bases.set(id, st);
    }
    const isStart = eventType === RUN_START_EVENT;
    let next: number[];
    if (st.starts.length > 0 && t > st.lastTs) {
      // The usual case: the newest event of its base.
      next = nextStarts(
        { starts: st.starts, pred: st.lastTs, succ: null, sameT: false, startEventAtSucc: false },
        t,
        isStart,
        this.#gapS,
      );
    } else {
      const pred = (this.#s.pred.get(exp, bk.base, t) as { t: number | null }).t;
      const succ = (this.#s.succ.get(exp, bk.base, t) as { t: number | null }).t;
      const at = this.#s.at.get(exp, bk.base, t) as { n: number };
      const atSucc = succ === null ? null : (this.#s.at.get(exp, bk.base, succ) as { s: number | null });
      next = nextStarts(
        { starts: st.starts, pred, succ, sameT: at.n > 0, startEventAtSucc: (atSucc?.s ?? 0) > 0 },
        t,
        isStart,
        this.#gapS,
      );
    }
    const key = keyAt(bk.base, next, t);
    row[9] = key;
    if (this.#s.insert.run(...row).changes === 0) return false;
    const { ranges, touched } = rekeys(bk.base, st.starts, next);
    const oldKeys = st.starts.map((_, i) => runKey(bk.base, i + 1));
    for (const r of ranges) {
      if (r.to === null) this.#s.rekeyOpen.run(r.key, exp, bk.base, r.from);
      else this.#s.rekeyTo.run(r.key, exp, bk.base, r.from, r.to);
      for (const k of oldKeys) {
        if (r.to === null) this.#s.rekeyIndexOpen.run(r.key, exp, k, r.from);
        else this.#s.rekeyIndexTo.run(r.key, exp, k, r.from, r.to);
      }
    }
    st.starts = next;
    if (t > st.lastTs) st.lastTs = t;
    for (const k of touched) this.#recomputeRun(exp, k, bk, next, changedAt);
    if (!touched.includes(key)) {
      const runNo = runIndexAt(next, t) + 1;
      const delta = newDelta(key, bk, runNo, { timestamp: t, video_id: videoId, protocol }, row[0]);
      upsertDelta(this.#s, exp, delta, changedAt);
    }
    return true;
  }

  /** Rewrites one run's summary row from its stored events (or drops it when it has none). */
  #recomputeRun(exp: string, key: string, bk: BaseKey, starts: readonly number[], changedAt: number): void {
    const c = this.#s.count.get(exp, bk.base, key) as {
      n: number;
      first: number | null;
      last: number | null;
    };
    this.#s.dropRow.run(exp, key);
    if (c.n === 0 || c.first === null || c.last === null) return;
    const first = this.#s.first.get(exp, bk.base, key) as { protocol: unknown };
    const video = this.#s.video.get(exp, bk.base, key) as { video_id: string; timestamp: number } | undefined;
    const known = this.#s.known.get(exp, bk.base, key) as { timestamp: number; protocol: string } | undefined;
    // The run as one delta: its first event, then what the queries found for the rest.
    const x = newDelta(key, bk, runIndexAt(starts, c.first) + 1, { timestamp: c.first, ...first }, '');
    x.count = c.n;
    x.lastTs = c.last;
    x.videoId = video?.video_id ?? UNKNOWN_VIDEO;
    x.videoAt = video?.timestamp ?? null;
    x.knownProtocol = known?.protocol ?? null;
    x.knownAt = known?.timestamp ?? null;
    upsertDelta(this.#s, exp, x, changedAt);
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
    // Fold what came before, so that the rows written here are not folded again.
    this.#compactNow(changedAt);
    const rows = db
      .prepare(
        `SELECT seq, id, timestamp, event_type, session_id, video_id, json_extract(doc, '$.protocol') AS protocol,
           CASE WHEN session_id IS NULL OR session_id = '' THEN doc END AS doc
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
      doc: string | null;
    }>;
    const byBase = new Map<string, { bk: BaseKey; evs: Array<{ seq: number; t: number; start: boolean }> }>();
    const explicit = new SummaryFold();
    let events = 0;
    for (const r of rows) {
      events++;
      const payloadSid = r.doc === null ? undefined : (JSON.parse(r.doc) as { payload?: unknown }).payload;
      const bk = baseSessionKey({ session_id: r.session_id, video_id: r.video_id, payload: payloadSid });
      const id = `${bk.split ? 's' : 'e'}\u0000${bk.base}`;
      let b = byBase.get(id);
      if (!b) {
        b = { bk, evs: [] };
        byBase.set(id, b);
      }
      b.evs.push({ seq: r.seq, t: r.timestamp, start: r.event_type === RUN_START_EVENT });
      if (!bk.split) explicit.add({ ...r, experiment_id: exp, session_key: bk.base });
    }
    const set = db.prepare('UPDATE events SET session_key = ?, session_base = ? WHERE seq = ?');
    db.prepare('DELETE FROM sessions WHERE experiment_id = ?').run(exp);
    db.prepare('DELETE FROM session_events WHERE experiment_id = ?').run(exp);
    let sessions = upsertFold(this.#s, explicit, changedAt);
    for (const { bk, evs } of byBase.values()) {
      const starts = bk.split ? startsOf(evs, this.#gapS) : [];
      const keys = new Set<string>();
      for (const e of evs) {
        const key = bk.split ? keyAt(bk.base, starts, e.t) : bk.base;
        keys.add(key);
        set.run(key, bk.split ? bk.base : null, e.seq);
      }
      if (!bk.split) continue;
      for (const key of keys) {
        this.#recomputeRun(exp, key, bk, starts, changedAt);
        sessions++;
      }
    }
    db.prepare(
      `INSERT INTO session_events (experiment_id, session_key, timestamp, id, seq)
       SELECT experiment_id, session_key, timestamp, id, seq FROM events WHERE experiment_id = ? ORDER BY 1, 2, 3, 4`,
    ).run(exp);
    db.prepare('DELETE FROM experiment_types WHERE experiment_id = ?').run(exp);
    db.prepare(
      'INSERT OR IGNORE INTO experiment_types SELECT DISTINCT experiment_id, event_type FROM events WHERE experiment_id = ?',
    ).run(exp);
    return { sessions, events };
  }

  /** Schema 1 -> 2: the session index leaves `events` for `session_events`, filled here. */
  indexAll(): void {
    this.#own = undefined;
    immediate(this.#db, () => {
      this.#db.exec(`INSERT OR REPLACE INTO session_events (experiment_id, session_key, timestamp, id, seq)
        SELECT experiment_id, session_key, timestamp, id, seq FROM events WHERE session_key IS NOT NULL`);
      this.#db.exec('UPDATE compacted SET seq = IFNULL((SELECT MAX(seq) FROM events), 0) WHERE one = 1');
    });
  }
}
