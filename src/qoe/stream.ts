/**
 * A session read from a store in (timestamp, id) order, folded as it streams: its QoE
 * figures (one pass, a second only when a guess about the future was wrong) and the instants
 * its time series are drawn from. Each batch of events is handled synchronously, so events
 * die young (no per-signal promise keeps a batch alive across garbage collections) and a
 * session of a million events is read in bounded memory.
 */
import { toSignals } from './dialects/index.ts';
import { QoeFold, spanOf } from './fold.ts';
import { Instants } from './instants.ts';
import { FactScan, type SignalFacts } from './playback.ts';
import { SessionMeta } from './session.ts';
import type { QoeEvent, QoeOptions, SessionQoe, Signal } from './types.ts';

/** A way to read a session's events in (timestamp, id) order, as often as needed. */
export type EventSource = () => AsyncIterable<QoeEvent[]>;

/**
 * Reads the source once, calling `onInstant` with the signals of each instant (exact copies
 * dropped, as SessionAccumulator.signals() does).
 */
export async function forEachInstant(
  source: EventSource,
  onInstant: (group: Signal[]) => void,
): Promise<void> {
  const instants = new Instants(onInstant);
  for await (const batch of source()) {
    for (const e of batch) for (const sig of toSignals(e)) instants.push(sig);
  }
  instants.flush();
}

/**
 * The guess for a first pass: playback follows every error the sender left unflagged, and
 * a session that reports its startup also reports playing. Sessions where that is wrong are
 * read a second time with what the first pass found.
 */
const LIKELY: SignalFacts = { hasPlaying: true, unflaggedFatal: [] };

type Span = { start: number; end: number };

/** One session's fold during one read: fed its events in store order, then settled. */
class SessionPass {
  readonly #meta: SessionMeta;
  readonly #scan = new FactScan();
  readonly #fold: QoeFold;
  readonly #span: Span;
  readonly #instants: Instants;

  /** `facts` and `span`: what the fold assumes (checked when it settles). */
  constructor(sessionId: string, facts: SignalFacts, span: Span, opts: QoeOptions) {
    this.#meta = new SessionMeta(sessionId);
    this.#fold = new QoeFold(facts, span, opts);
    this.#span = span;
    this.#instants = new Instants((group) => {
      for (const s of group) this.#scan.add(s);
      this.#fold.instant(group);
    });
  }

  event(e: QoeEvent): void {
    this.#meta.note(e);
    for (const sig of toSignals(e)) this.#instants.push(sig);
  }

  /** The figures, whether the assumptions held (`exact`), and what the read found. */
  settle(): { qoe: SessionQoe; exact: boolean; facts: SignalFacts; span: Span } {
    this.#instants.flush();
    const real = spanOf(this.#meta.first, this.#meta.last);
    return {
      qoe: this.#fold.result(this.#meta),
      exact:
        real.start === this.#span.start && real.end === this.#span.end && this.#fold.agreesWith(this.#scan),
      facts: this.#scan,
      span: real,
    };
  }
}

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
  const pass = async (facts: SignalFacts, assumed: Span) => {
    const p = new SessionPass(sessionId, facts, assumed, opts);
    for await (const batch of source()) for (const e of batch) p.event(e);
    return p.settle();
  };
  const first = await pass(LIKELY, spanOf(span.first, span.last));
  if (first.exact) return first.qoe;
  return (await pass(first.facts, first.span)).qoe;
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
  const passes = new Map(
    sessions.map((s) => [
      s.sessionId,
      new SessionPass(s.sessionId, LIKELY, spanOf(s.span.first, s.span.last), opts),
    ]),
  );
  for await (const batch of source()) {
    for (const e of batch) {
      if (typeof e.session_key !== 'string') return new Map();
      passes.get(e.session_key)?.event(e);
    }
  }
  const out = new Map<string, SessionQoe>();
  for (const [key, p] of passes) {
    const r = p.settle();
    if (r.exact) out.set(key, r.qoe);
  }
  return out;
}
