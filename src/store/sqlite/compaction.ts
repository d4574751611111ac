/**
 * The compaction of the embedded store: what follows the events into `session_events` and the
 * summary rows of explicitly keyed sessions, in a transaction of its own (schema.ts says why).
 *
 * Every event whose seq is above the mark in `compacted` is folded: indexed by session, and
 * counted into its session's summary, for explicit sessions only (the runs of fallback keys
 * keep their summaries current at insert, and are read by time range of their base). The mark
 * then moves to the newest seq. SQLite gives a new row max(seq)+1 and write transactions are
 * serial, so every row committed after the mark has a higher seq; deleting the newest rows
 * would let seqs be reused, so a delete lowers the mark to the newest seq left (write-ops.ts).
 */
import { addToDelta, type Delta, newDelta, nextVersion } from '../../sessions/summary.ts';
import { KIND_RUN, KIND_SESSION } from './schema.ts';
import type { Statements } from './statements.ts';

/** An explicitly keyed event as the summary fold reads it (`id`: tie-breaker at equal times). */
export interface SummaryInput {
  id: string;
  experiment_id: string;
  session_key: string;
  timestamp: number;
  video_id: string;
  protocol: unknown;
}

const EXPLICIT = { source: 'session_id', split: false } as const;

/** Folds explicitly keyed events into one delta per session (src/sessions/summary.ts). */
export class SummaryFold {
  readonly #deltas = new Map<string, { exp: string; delta: Delta }>();

  add(e: SummaryInput): void {
    const k = `${e.experiment_id}\u0000${e.session_key}`;
    const x = this.#deltas.get(k);
    if (x) addToDelta(x.delta, e, e.id);
    else {
      const delta = newDelta(e.session_key, { base: e.session_key, ...EXPLICIT }, 1, e, e.id);
      this.#deltas.set(k, { exp: e.experiment_id, delta });
    }
  }

  values(): IterableIterator<{ exp: string; delta: Delta }> {
    return this.#deltas.values();
  }
}

/** A delta as the values of a summary row, in ROW_COLUMNS order (statements.ts). */
export function rowValues(exp: string, x: Delta, changedAt: number): unknown[] {
  return [
    exp,
    x.key,
    x.base === null ? KIND_SESSION : KIND_RUN,
    x.base,
    x.runNo,
    x.source,
    x.count,
    x.firstTs,
    x.firstId,
    x.lastTs,
    x.videoId,
    x.videoAt,
    x.videoRef,
    x.firstProtocol,
    x.knownProtocol,
    x.knownAt,
    x.knownId,
    nextVersion(),
    changedAt,
  ];
}

/** Adds a delta to its session's summary row (a new row, or counts and earliest facts merged). */
export function upsertDelta(s: Statements, exp: string, x: Delta, changedAt: number): void {
  s.upsert.run(...rowValues(exp, x, changedAt));
}

/** Upserts every delta of a fold; returns how many sessions it touched. */
export function upsertFold(s: Statements, fold: SummaryFold, changedAt: number): number {
  let n = 0;
  for (const { exp, delta } of fold.values()) {
    upsertDelta(s, exp, delta, changedAt);
    n++;
  }
  return n;
}

/**
 * What a writer folded in memory from its own inserts since its last compaction: valid for the
 * events after `mark` when they are exactly its `events` (no other writer stored or compacted
 * in between); otherwise the compaction reads them back.
 */
export interface OwnInserts {
  mark: number;
  events: number;
  fold: SummaryFold;
}

/**
 * Folds every event after the mark; call inside a write transaction. Returns how many events
 * it folded.
 */
export function compactTail(s: Statements, changedAt: number, own?: OwnInserts): number {
  const mark = (s.mark.get() as { seq: number }).seq;
  const newest = (s.newest.get() as { m: number | null }).m;
  if (newest === null || newest <= mark) return 0;
  s.indexTail.run(mark, newest);
  let fold: SummaryFold;
  if (own && own.mark === mark && own.events === newest - mark) fold = own.fold;
  else {
    fold = new SummaryFold();
    for (const r of s.compactTail.iterate(mark, newest) as Iterable<SummaryInput>) fold.add(r);
  }
  upsertFold(s, fold, changedAt);
  s.setMark.run(newest);
  return newest - mark;
}
