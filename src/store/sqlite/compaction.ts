/**
 * The compaction of the embedded store: what follows the events into `session_events` and the
 * summary rows of explicitly keyed sessions, in a transaction of its own (schema.ts says why).
 *
 * Every event whose seq is above the mark in `compacted` is folded: indexed by session, and
 * counted into its session's summary when its session is explicit (the runs of fallback keys
 * keep their summaries current at insert: ingest reads them to place the next event). The mark
 * then moves to the newest seq. SQLite gives a new row max(seq)+1 and write transactions are
 * serial, so every row committed after the mark has a higher seq; deleting the newest rows
 * would let seqs be reused, so a delete lowers the mark to the newest seq left (write-ops.ts).
 */
import { isKnownProtocol, isKnownVideo, UNKNOWN_VIDEO } from '../../sessions/summary.ts';
import type { Statements } from './statements.ts';

/** What events add to one explicitly keyed session's summary. */
export interface Delta {
  experimentId: string;
  key: string;
  count: number;
  firstTs: number;
  lastTs: number;
  videoId: string;
  videoAt: number | null;
  firstProtocol: string;
  knownProtocol: string | null;
  knownAt: number | null;
}

/** An event as the summary fold reads it. */
export interface SummaryInput {
  experiment_id: string;
  session_key: string;
  timestamp: number;
  video_id: string;
  protocol: unknown;
}

/**
 * Folds events into per-session summary deltas: count, span, the earliest known video and
 * protocol (src/sessions/summary.ts states the rules). Events on the same timestamp count in
 * the order they are added: insertion (seq) order.
 */
export class SummaryFold {
  readonly #deltas = new Map<string, Delta>();

  add(e: SummaryInput): void {
    const protocol = e.protocol === null || e.protocol === undefined ? '' : String(e.protocol);
    const known = isKnownProtocol(protocol);
    const video = isKnownVideo(e.video_id);
    const t = e.timestamp;
    const id = `${e.experiment_id}\u0000${e.session_key}`;
    const x = this.#deltas.get(id);
    if (!x) {
      this.#deltas.set(id, {
        experimentId: e.experiment_id,
        key: e.session_key,
        count: 1,
        firstTs: t,
        lastTs: t,
        videoId: video ? e.video_id : UNKNOWN_VIDEO,
        videoAt: video ? t : null,
        firstProtocol: protocol,
        knownProtocol: known ? protocol : null,
        knownAt: known ? t : null,
      });
      return;
    }
    x.count++;
    if (t < x.firstTs) {
      x.firstTs = t;
      x.firstProtocol = protocol;
    }
    if (t > x.lastTs) x.lastTs = t;
    if (video && (x.videoAt === null || t < x.videoAt)) {
      x.videoAt = t;
      x.videoId = e.video_id;
    }
    if (known && (x.knownAt === null || t < x.knownAt)) {
      x.knownAt = t;
      x.knownProtocol = protocol;
    }
  }

  values(): IterableIterator<Delta> {
    return this.#deltas.values();
  }
}

/** Adds deltas to the summary rows (a new row, or counts and earliest facts merged). */
export function upsertDeltas(
  s: Statements,
  deltas: Iterable<Delta>,
  version: () => number,
  changedAt: number,
): number {
  let n = 0;
  for (const x of deltas) {
    s.upsert.run(
      x.experimentId,
      x.key,
      null,
      1,
      'session_id',
      x.count,
      x.firstTs,
      x.lastTs,
      x.videoId,
      x.videoAt,
      x.firstProtocol,
      x.knownProtocol,
      x.knownAt,
      version(),
      changedAt,
    );
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
export function compactTail(
  s: Statements,
  version: () => number,
  changedAt: number,
  own?: OwnInserts,
): number {
  const mark = (s.mark.get() as { seq: number }).seq;
  const newest = (s.newest.get() as { m: number | null }).m;
  if (newest === null || newest <= mark) return 0;
  s.indexTail.run(mark, newest);
  let fold: SummaryFold;
  if (own && own.mark === mark && own.events === newest - mark) fold = own.fold;
  else {
    fold = new SummaryFold();
    for (const r of s.tail.iterate(mark, newest) as Iterable<SummaryInput & { split: number }>) {
      if (r.split === 0) fold.add(r);
    }
  }
  upsertDeltas(s, fold.values(), version, changedAt);
  s.setMark.run(newest);
  return newest - mark;
}
