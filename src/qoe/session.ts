/**
 * Per-session QoE from events in memory: collects a session's events as signals (in any
 * order, duplicates allowed), then folds them (fold.ts) over the session minus its warm-up.
 */

import { addToDelta, type Delta, newDelta, sessionProtocol } from '../sessions/summary.ts';
import { toSignals } from './dialects/index.ts';
import { QoeFold, spanOf } from './fold.ts';
import { Instants } from './instants.ts';
import { FactScan } from './playback.ts';
import type { QoeEvent, QoeOptions, SessionQoe, Signal } from './types.ts';

export { MIN_REPORTED_STARTUP_SHARE } from './fold.ts';

/**
 * What a session is besides its signals, noted event by event in any order: its video and
 * protocol by the one rule every session summary follows (src/sessions/summary.ts: the
 * earliest known video, else "unknown"; the earliest known protocol, else the first event's)
 * and its first and last timestamps. Stored sessions take these from their summary row
 * instead (src/session-qoe/service.ts), which follows the same rule.
 */
export class SessionMeta {
  readonly sessionId: string;
  #delta: Delta | null = null;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }

  get videoId(): string | null {
    return this.#delta?.videoId ?? null;
  }

  get protocol(): string | null {
    return this.#delta ? sessionProtocol(this.#delta.knownProtocol, this.#delta.firstProtocol) : null;
  }

  /** Notes one event; false when its timestamp is unusable (then it carries no signal either). */
  note(event: QoeEvent): boolean {
    const t = event.timestamp;
    if (typeof t !== 'number' || !Number.isFinite(t)) return false;
    const id = typeof event._id === 'string' ? event._id : '';
    if (this.#delta) addToDelta(this.#delta, event as { timestamp: number }, id);
    else this.#delta = newDelta(this.sessionId, EXPLICIT, 1, event as { timestamp: number }, id);
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    return true;
  }
}

const EXPLICIT = { base: '', source: 'session_id', split: false } as const;

/**
 * One session's events reduced to what QoE needs: add events one by one in any order (memory
 * grows with the signals, not the payloads), then `result()`. Sessions read from a store in
 * time order need none of this: src/sessions/ folds them as they stream.
 */
export class SessionAccumulator extends SessionMeta {
  readonly #items: Signal[] = [];
  readonly #eventIds = new Set<string>();

  add(event: QoeEvent): void {
    if (typeof event.timestamp !== 'number' || !Number.isFinite(event.timestamp)) return;
    if (typeof event.event_id === 'string') {
      if (this.#eventIds.has(event.event_id)) return;
      this.#eventIds.add(event.event_id);
    }
    this.note(event);
    for (const sig of toSignals(event)) this.#items.push(sig);
  }

  /** Signals sorted by time (stable: arrival order breaks ties), exact copies dropped. */
  signals(): Signal[] {
    return this.#instants().flat();
  }

  result(opts: QoeOptions = {}): SessionQoe {
    const instants = this.#instants();
    const facts = new FactScan();
    for (const group of instants) for (const s of group) facts.add(s);
    const fold = new QoeFold(facts, spanOf(this.first, this.last), opts);
    for (const group of instants) fold.instant(group);
    return fold.result(this);
  }

  /** The signals one instant at a time, in time order, without copies. */
  #instants(): Signal[][] {
    // Array.prototype.sort is stable, so equal timestamps keep their arrival order. Sorted in
    // place (a second sort changes nothing), and only when needed.
    const sorted = this.#items;
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.t < sorted[i - 1]!.t) {
        sorted.sort((a, b) => a.t - b.t);
        break;
      }
    }
    const out: Signal[][] = [];
    const instants = new Instants((group) => out.push(group));
    for (const s of sorted) instants.push(s);
    instants.flush();
    return out;
  }
}

/**
 * QoE of one session's events, named `sessionId` (default: the events' stored session_key,
 * else their session_id, else 'unknown').
 */
export function computeSessionQoe(
  events: Iterable<QoeEvent>,
  opts: QoeOptions & { sessionId?: string } = {},
): SessionQoe {
  let acc: SessionAccumulator | null = null;
  for (const e of events) {
    acc ??= new SessionAccumulator(opts.sessionId ?? nameOf(e));
    acc.add(e);
  }
  return (acc ?? new SessionAccumulator(opts.sessionId ?? 'unknown')).result(opts);
}

function nameOf(e: QoeEvent): string {
  for (const v of [e.session_key, e.session_id, e.video_id]) if (typeof v === 'string' && v !== '') return v;
  return 'unknown';
}
