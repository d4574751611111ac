/**
 * Every write of the embedded store, run on the writer thread (writer-thread.ts) with its own
 * connection: inserting events together with their session summaries, deleting an
 * experiment, caching a session's QoE, and rebuilding summaries from the events.
 *
 * Inserts decide each event's session once (src/sessions/key.ts) and store it in the event's
 * row; events of fallback keys are split into runs (src/sessions/runs.ts), which may move
 * stored events of that base to another run when a late event changes where runs start. The
 * summary rows of touched sessions change in the same transaction, so they always equal the
 * stored events.
 */
import type Database from 'libsql';
import type { EventDoc } from '../../events/schema.ts';
import { type BaseKey, baseSessionKey, RUN_START_EVENT } from '../../sessions/key.ts';
import { keyAt, nextStarts, rekeys, runIndexAt, startsOf } from '../../sessions/runs.ts';
import { CMCD_PROTOCOL, isKnownVideo, UNKNOWN_VIDEO } from '../../sessions/summary.ts';
import type { InsertResult, RebuildResult } from '../types.ts';
import { toRow } from './rows.ts';
import { prepareStatements, type Statements } from './statements.ts';

type Db = InstanceType<typeof Database>;

/** What one group adds to one explicitly keyed session. */
interface Delta {
  experimentId: string;
  key: string;
  source: string;
  count: number;
  firstTs: number;
  lastTs: number;
  videoId: string;
  videoAt: number | null;
  firstProtocol: string;
  knownProtocol: string | null;
  knownAt: number | null;
}

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
  #clock = 0;

  constructor(db: Db, gapS: number) {
    this.#db = db;
    this.#gapS = gapS;
    this.#s = prepareStatements(db);
  }

  /**
   * A new summary version: unique and increasing across rebuilds and restarts (microseconds of
   * wall-clock time), so a QoE computed from an older version is never saved over a newer one.
   */
  #version(): number {
    this.#clock = Math.max(this.#clock + 1, Date.now() * 1000);
    return this.#clock;
  }

  /** Inserts events with their sessions in one IMMEDIATE transaction. */
  insert(docs: readonly EventDoc[]): InsertResult {
    return immediate(this.#db, () => this.#insertAll(docs));
  }

  #insertAll(docs: readonly EventDoc[]): InsertResult {
    const duplicates: number[] = [];
    let inserted = 0;
    const deltas = new Map<string, Delta>();
    const bases = new Map<string, BaseState>();
    const types = new Set<string>();
    const changedAt = nowS();
    for (let i = 0; i < docs.length; i++) {
      const d = docs[i] as EventDoc;
      const bk = baseSessionKey(d);
      const ok = bk.split ? this.#insertSplit(d, bk, bases, changedAt) : this.#insertExplicit(d, bk, deltas);
      if (!ok) {
        duplicates.push(i);
        continue;
      }
      inserted++;
      types.add(`${d.experiment_id}\u0000${d.event_type}`);
    }
    for (const x of deltas.values()) {
      this.#s.upsert.run(
        x.experimentId,
        x.key,
        null,
        1,
        x.source,
        x.count,
        x.firstTs,
        x.lastTs,
        x.videoId,
        x.videoAt,
        x.firstProtocol,
        x.knownProtocol,
        x.knownAt,
        this.#version(),
        changedAt,
      );
    }
    for (const t of types) {
      const [exp, type] = t.split('\u0000') as [string, string];
      this.#s.types.run(exp, type);
    }
    return { inserted, duplicates };
  }

  #insertExplicit(d: EventDoc, bk: BaseKey, deltas: Map<string, Delta>): boolean {
    if (this.#s.insert.run(...toRow(d, bk.base, null)).changes === 0) return false;
    const id = `${d.experiment_id}\u0000${bk.base}`;
    const protocol = String(d.protocol);
    const known = protocol !== '' && protocol !== CMCD_PROTOCOL;
    const x = deltas.get(id);
    if (!x) {
      deltas.set(id, {
        experimentId: d.experiment_id,
        key: bk.base,
        source: bk.source,
        count: 1,
        firstTs: d.timestamp,
        lastTs: d.timestamp,
        videoId: isKnownVideo(d.video_id) ? d.video_id : UNKNOWN_VIDEO,
        videoAt: isKnownVideo(d.video_id) ? d.timestamp : null,
        firstProtocol: protocol,
        knownProtocol: known ? protocol : null,
        knownAt: known ? d.timestamp : null,
      });
      return true;
    }
    x.count++;
    if (d.timestamp < x.firstTs) {
      x.firstTs = d.timestamp;
      x.firstProtocol = protocol;
    }
    if (isKnownVideo(d.video_id) && (x.videoAt === null || d.timestamp < x.videoAt)) {
      x.videoAt = d.timestamp;
      x.videoId = d.video_id;
    }
    if (d.timestamp > x.lastTs) x.lastTs = d.timestamp;
    if (known && (x.knownAt === null || d.timestamp < x.knownAt)) {
      x.knownAt = d.timestamp;
      x.knownProtocol = protocol;
    }
    return true;
  }

  /** A fallback-keyed event: find its run (maybe moving others), store it, update summaries. */
  #insertSplit(d: EventDoc, bk: BaseKey, bases: Map<string, BaseState>, changedAt: number): boolean {
    const exp = d.experiment_id;
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
    const t = d.timestamp;
    const isStart = d.event_type === RUN_START_EVENT;
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
    if (this.#s.insert.run(...toRow(d, key, bk.base)).changes === 0) return false;
    const { ranges, touched } = rekeys(bk.base, st.starts, next);
    for (const r of ranges) {
      if (r.to === null) this.#s.rekeyOpen.run(r.key, exp, bk.base, r.from);
      else this.#s.rekeyTo.run(r.key, exp, bk.base, r.from, r.to);
    }
    st.starts = next;
    if (t > st.lastTs) st.lastTs = t;
    for (const k of touched) this.#recomputeRow(exp, k, bk, next, changedAt);
    if (!touched.includes(key)) {
      const protocol = String(d.protocol);
      const known = protocol !== '' && protocol !== CMCD_PROTOCOL;
      this.#s.upsert.run(
        exp,
        key,
        bk.base,
        runIndexAt(next, t) + 1,
        bk.source,
        1,
        t,
        t,
        isKnownVideo(d.video_id) ? d.video_id : UNKNOWN_VIDEO,
        isKnownVideo(d.video_id) ? t : null,
        protocol,
        known ? protocol : null,
        known ? t : null,
        this.#version(),
        changedAt,
      );
    }
    return true;
  }

  /** Rewrites one session's summary row from its stored events (or drops it when it has none). */
  #recomputeRow(
    exp: string,
    key: string,
    bk: BaseKey | null,
    starts: readonly number[],
    changedAt: number,
  ): void {
    const c = this.#s.count.get(exp, key) as { n: number; first: number | null; last: number | null };
    if (c.n === 0 || c.first === null || c.last === null) {
      this.#s.dropRow.run(exp, key);
      return;
    }
    const first = this.#s.first.get(exp, key) as { protocol: unknown };
    const video = this.#s.video.get(exp, key) as { video_id: string; timestamp: number } | undefined;
    const known = this.#s.known.get(exp, key) as { timestamp: number; protocol: string } | undefined;
    const runNo = bk?.split ? runIndexAt(starts, c.first) + 1 : 1;
    this.#s.putRow.run(
      exp,
      key,
      bk?.split ? bk.base : null,
      runNo,
      bk?.source ?? 'session_id',
      c.n,
      c.first,
      c.last,
      video?.video_id ?? UNKNOWN_VIDEO,
      video?.timestamp ?? null,
      first.protocol === null || first.protocol === undefined ? '' : String(first.protocol),
      known?.protocol ?? null,
      known?.timestamp ?? null,
      this.#version(),
      changedAt,
    );
  }

  /** Caches a session's QoE, unless an event changed the session since `version` was read. */
  saveQoe(exp: string, key: string, version: number, qoe: string): boolean {
    return this.#s.saveQoe.run(qoe, exp, key, version).changes > 0;
  }

  /** Removes an experiment's events and summaries, in chunks so other writes interleave. */
  deleteChunk(exp: string, chunk: number): number {
    return this.#db
      .transaction(() => {
        const n = this.#db
          .prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE experiment_id = ? LIMIT ?)')
          .run(exp, chunk).changes;
        if (n < chunk) {
          this.#db.prepare('DELETE FROM sessions WHERE experiment_id = ?').run(exp);
          this.#db.prepare('DELETE FROM experiment_types WHERE experiment_id = ?').run(exp);
        }
        return n;
      })
      .immediate();
  }

  /**
   * Re-derives every stored session key and summary of one experiment (or all) from the events:
   * after a migration, or on demand (`stats-server rebuild-summaries`).
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
    const rows = db
      .prepare(
        'SELECT seq, timestamp, event_type, session_id, video_id, doc FROM events WHERE experiment_id = ?',
      )
      .iterate(exp) as Iterable<{
      seq: number;
      timestamp: number;
      event_type: string;
      session_id: string | null;
      video_id: string;
      doc: string;
    }>;
    const byBase = new Map<string, { bk: BaseKey; evs: Array<{ seq: number; t: number; start: boolean }> }>();
    let events = 0;
    for (const r of rows) {
      events++;
      const payloadSid = r.session_id ? undefined : (JSON.parse(r.doc) as { payload?: unknown }).payload;
      const bk = baseSessionKey({ session_id: r.session_id, video_id: r.video_id, payload: payloadSid });
      const id = `${bk.split ? 's' : 'e'}\u0000${bk.base}`;
      let b = byBase.get(id);
      if (!b) {
        b = { bk, evs: [] };
        byBase.set(id, b);
      }
      b.evs.push({ seq: r.seq, t: r.timestamp, start: r.event_type === RUN_START_EVENT });
    }
    const set = db.prepare('UPDATE events SET session_key = ?, session_base = ? WHERE seq = ?');
    db.prepare('DELETE FROM sessions WHERE experiment_id = ?').run(exp);
    const changedAt = nowS();
    let sessions = 0;
    for (const { bk, evs } of byBase.values()) {
      const starts = bk.split ? startsOf(evs, this.#gapS) : [];
      const keys = new Set<string>();
      for (const e of evs) {
        const key = bk.split ? keyAt(bk.base, starts, e.t) : bk.base;
        keys.add(key);
        set.run(key, bk.split ? bk.base : null, e.seq);
      }
      for (const key of keys) {
        this.#recomputeRow(exp, key, bk, starts, changedAt);
        sessions++;
      }
    }
    db.prepare('DELETE FROM experiment_types WHERE experiment_id = ?').run(exp);
    db.prepare(
      'INSERT OR IGNORE INTO experiment_types SELECT DISTINCT experiment_id, event_type FROM events WHERE experiment_id = ?',
    ).run(exp);
    return { sessions, events };
  }
}
