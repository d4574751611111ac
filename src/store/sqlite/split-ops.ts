/**
 * The embedded store's side of the session engine (src/sessions/plan.ts): what it reads for the
 * planner (a split base's run starts and windows of its groups) and how it executes a base's
 * plan, inside the insert's transaction (write-ops.ts). Base states are kept between groups and
 * dropped whenever another connection committed (PRAGMA data_version), so that several writers
 * on one file (WORKERS=n) place events from what is stored.
 */
import type Database from 'libsql';
import type { BaseKey, SessionSource } from '../../sessions/key.ts';
import {
  type BasePlan,
  type BaseState,
  baseStateOf,
  type GroupCut,
  wholeGroups,
  windowOf,
} from '../../sessions/plan.ts';
import {
  type RunPoint,
  type RunWindow,
  runRoleOf,
  WINDOW_AFTER,
  WINDOW_BEFORE,
} from '../../sessions/runs.ts';
import { addToDelta, type Delta, newDelta, nextVersion } from '../../sessions/summary.ts';
import { rowValues } from './compaction.ts';
import { KIND_RUN } from './schema.ts';
import type { Statements } from './statements.ts';

type Db = InstanceType<typeof Database>;

interface GroupRow {
  timestamp: number;
  event_type: string;
  ptype: unknown;
  bl: unknown;
}

/** Stored rows of a base as points of the run split. */
const pointsOf = (rows: readonly GroupRow[]): RunPoint[] =>
  rows.map((r) => ({
    t: r.timestamp,
    role: runRoleOf({ event_type: r.event_type, payload: { type: r.ptype, buffer_level: r.bl } }),
  }));

/** Reads whole groups in one direction (plan.ts wholeGroups). */
function readGroups(read: (limit: number) => GroupRow[], want: number): GroupCut {
  const g = wholeGroups(want);
  let step = g.next();
  while (!step.done) step = g.next(pointsOf(read(step.value)));
  return step.value;
}

export class SplitOps {
  readonly #db: Db;
  readonly #s: Statements;
  /** Base states kept between groups, by experiment and base. */
  readonly #states = new Map<string, BaseState>();
  #dataVersion = -1;
  #version: { get(): unknown } | undefined;

  constructor(db: Db, s: Statements) {
    this.#db = db;
    this.#s = s;
  }

  /** Drops kept states when another connection committed since the last check (in a transaction). */
  checkOthers(): void {
    this.#version ??= this.#db.prepare('PRAGMA data_version') as unknown as { get(): unknown };
    const v = (this.#version.get() as { data_version: number }).data_version;
    if (v !== this.#dataVersion) this.#states.clear();
    this.#dataVersion = v;
  }

  /** Forgets every kept state (after deletes and rebuilds). */
  forget(): void {
    this.#states.clear();
  }

  /** A base's state: kept, or read (its runs and its tail). */
  state(exp: string, base: string, source: SessionSource): BaseState {
    const id = `${exp}\u0000${base}`;
    const kept = this.#states.get(id);
    if (kept) return kept;
    const runs = this.#s.runs.all(exp, base) as { first_ts: number; last_ts: number }[];
    const tail = { groups: [], edge: null };
    return baseStateOf(
      { base, source },
      runs,
      runs.length === 0
        ? tail
        : readGroups((n) => this.#s.tail.all(exp, base, n) as GroupRow[], WINDOW_BEFORE + 1),
    );
  }

  /** Keeps a base's state once its group committed. */
  keep(exp: string, st: BaseState): void {
    this.#states.set(`${exp}\u0000${st.base}`, st);
  }

  /** The stored groups around t that the planner needs (runs.ts windowCovers). */
  window(exp: string, base: string, t: number): RunWindow {
    return windowOf(
      readGroups((n) => this.#s.before.all(exp, base, t, n) as GroupRow[], WINDOW_BEFORE),
      readGroups((n) => this.#s.from.all(exp, base, t, n) as GroupRow[], WINDOW_AFTER + 1),
    );
  }

  /**
   * Executes a base's plan after the group's events were inserted: moves stored events between
   * runs, renames, recomputes and drops run summaries. The group's deltas follow (write-ops.ts).
   */
  execute(exp: string, plan: BasePlan, changedAt: number): void {
    const s = this.#s;
    for (const r of plan.ranges) {
      if (r.to === null) s.rekeyOpen.run(r.key, exp, plan.base, r.from);
      else s.rekeyTo.run(r.key, exp, plan.base, r.from, r.to);
    }
    const moved = plan.renamed.map((x) => ({ x, row: s.getRun.get(exp, x.from) as Record<string, unknown> }));
    for (const k of [...plan.renamed.map((x) => x.from), ...plan.recompute.map((r) => r.key), ...plan.gone])
      s.dropRow.run(exp, k, KIND_RUN);
    for (const { x, row } of moved) {
      if (!row) continue;
      s.insertRow.run(
        exp,
        x.to,
        KIND_RUN,
        row.base_key,
        x.runNo,
        row.source,
        row.count,
        row.first_ts,
        row.first_id,
        row.last_ts,
        row.video_id,
        row.video_at,
        row.video_ref,
        row.first_protocol,
        row.known_protocol,
        row.known_at,
        row.known_ref,
        nextVersion(),
        changedAt,
        row.stale,
        // The cached QoE names its session: it follows the new id.
        typeof row.qoe === 'string' ? JSON.stringify({ ...JSON.parse(row.qoe), session_id: x.to }) : row.qoe,
      );
    }
    const bk: BaseKey = { base: plan.base, source: plan.source, split: true };
    for (const span of plan.recompute) {
      const rows = (
        span.to === null
          ? s.spanOpen.iterate(exp, plan.base, span.from)
          : s.spanTo.iterate(exp, plan.base, span.from, span.to)
      ) as Iterable<{ id: string; timestamp: number; video_id: string; protocol: unknown }>;
      let d: Delta | undefined;
      for (const e of rows) {
        if (d) addToDelta(d, e, e.id);
        else d = newDelta(span.key, bk, span.runNo, e, e.id);
      }
      if (d) s.insertRow.run(...rowValues(exp, d, changedAt), 1, null);
    }
  }
}
