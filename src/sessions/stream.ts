/**
 * A session read from a store in (timestamp, id) order, folded as it streams: its QoE
 * figures (one pass, a second only when a guess about the future was wrong) and the instants
 * its time series are drawn from. Each batch of events is handled synchronously, so events
 * die young (no per-signal promise keeps a batch alive across garbage collections) and a
 * session of a million events is read in bounded memory.
 */
import { toSignals } from '../qoe/dialects/index.ts';
import { QoeFold, spanOf, withoutCopies } from '../qoe/fold.ts';
import { FactScan, type SignalFacts } from '../qoe/playback.ts';
import { SessionMeta } from '../qoe/session.ts';
import type { QoeEvent, QoeOptions, SessionQoe, Signal } from '../qoe/types.ts';

/** A way to read a session's events in (timestamp, id) order, as often as needed. */
export type EventSource = () => AsyncIterable<QoeEvent[]>;

/**
 * Reads the source once, calling `onEvent` with every event and `onInstant` with the signals
 * of each instant (exact copies dropped, as SessionAccumulator.signals() does).
 */
export async function forEachInstant(
  source: EventSource,
  onInstant: (group: Signal[]) => void,
  onEvent?: (e: QoeEvent) => void,
): Promise<void> {
  let group: Signal[] = [];
  for await (const batch of source()) {
    for (const e of batch) {
      onEvent?.(e);
      for (const sig of toSignals(e)) {
        if (group.length > 0 && group[0]!.t !== sig.t) {
          onInstant(withoutCopies(group));
          group = [];
        }
        group.push(sig);
      }
    }
  }
  if (group.length > 0) onInstant(withoutCopies(group));
}

/**
 * The guess for a first pass: playback follows every error the sender left unflagged, and
 * a session that reports its startup also reports playing. Sessions where that is wrong are
 * read a second time with what the first pass found.
 */
const LIKELY: SignalFacts = { hasPlaying: true, unflaggedFatal: [] };

/**
 * One session's QoE from its events in store order. `span` is what the summary says of the
 * session's first and last timestamps: it places a warm-up trim point before the last event
 * is read. A first pass guesses the look-ahead facts (LIKELY); when they or the span turn out
 * wrong, a second pass uses what the first one found. Should events arrive between the two
 * passes, the second stands: the cached figure is tied to the summary's version, which those
 * events moved on, so the next read computes it again.
 */
export async function streamSessionQoe(
  source: EventSource,
  sessionId: string,
  opts: QoeOptions,
  span: { first: number; last: number },
): Promise<SessionQoe> {
  const first = await foldPass(source, sessionId, opts, LIKELY, spanOf(span.first, span.last));
  if (first.exact) return first.qoe;
  return (await foldPass(source, sessionId, opts, first.facts, first.span)).qoe;
}

async function foldPass(
  source: EventSource,
  sessionId: string,
  opts: QoeOptions,
  facts: SignalFacts,
  span: { start: number; end: number },
): Promise<{ qoe: SessionQoe; exact: boolean; facts: SignalFacts; span: { start: number; end: number } }> {
  const meta = new SessionMeta(sessionId);
  const scan = new FactScan();
  const fold = new QoeFold(facts, span, opts);
  await forEachInstant(
    source,
    (group) => {
      for (const s of group) scan.add(s);
      fold.instant(group);
    },
    (e) => meta.note(e),
  );
  const real = spanOf(meta.first, meta.last);
  return {
    qoe: fold.result(meta),
    exact: real.start === span.start && real.end === span.end && fold.agreesWith(scan),
    facts: scan,
    span: real,
  };
}

/** One session of a multi-session pass: its fold, what it is, and what the pass found. */
interface SessionPass {
  meta: SessionMeta;
  scan: FactScan;
  fold: QoeFold;
  span: { start: number; end: number };
  /** The instant being gathered (signals of one timestamp) for this session. */
  group: Signal[];
}

/**
 * Several sessions' QoE from one read of the whole experiment in store order (each event
 * routed by its stored `session_key`): when most of an experiment's sessions need computing,
 * one scan costs less than a read per session, and on a MongoDB-compatible server without
 * index use (FerretDB) far less. A session whose first-pass guesses were wrong (LIKELY, or its
 * summary's span) is left out of the result, for streamSessionQoe to compute on its own; so is
 * every session if an event carries no stored key (a collection written before keys were
 * stored, read before its backfill).
 */
export async function foldSessions(
  source: EventSource,
  sessions: ReadonlyArray<{ sessionId: string; span: { first: number; last: number } }>,
  opts: QoeOptions,
): Promise<Map<string, SessionQoe>> {
  const passes = new Map<string, SessionPass>();
  for (const s of sessions) {
    const span = spanOf(s.span.first, s.span.last);
    passes.set(s.sessionId, {
      meta: new SessionMeta(s.sessionId),
      scan: new FactScan(),
      fold: new QoeFold(LIKELY, span, opts),
      span,
      group: [],
    });
  }
  const flush = (p: SessionPass) => {
    const group = withoutCopies(p.group);
    for (const s of group) p.scan.add(s);
    p.fold.instant(group);
    p.group = [];
  };
  for await (const batch of source()) {
    for (const e of batch) {
      if (typeof e.session_key !== 'string') return new Map();
      const p = passes.get(e.session_key);
      if (!p) continue;
      p.meta.note(e);
      for (const sig of toSignals(e)) {
        if (p.group.length > 0 && p.group[0]!.t !== sig.t) flush(p);
        p.group.push(sig);
      }
    }
  }
  const out = new Map<string, SessionQoe>();
  for (const [key, p] of passes) {
    if (p.group.length > 0) flush(p);
    const real = spanOf(p.meta.first, p.meta.last);
    if (real.start === p.span.start && real.end === p.span.end && p.fold.agreesWith(p.scan)) {
      out.set(key, p.fold.result(p.meta));
    }
  }
  return out;
}
