/** QoE over a whole experiment: events grouped into sessions, per-session figures, aggregates. */

import { baseSessionKey } from '../sessions/key.ts';
import { aggregate } from './aggregate.ts';
import { SessionAccumulator } from './session.ts';
import type { AggregatedMetric, QoeEvent, QoeOptions, SessionQoe, Summary } from './types.ts';

export interface ExperimentQoe {
  sessions: SessionQoe[];
  aggregate: Record<AggregatedMetric, Summary>;
}

/**
 * Groups events by session as they stream in (any order), keeping only their QoE signals, so
 * a route can feed a store cursor without holding the events.
 */
export class QoeCollector {
  private readonly sessions = new Map<string, SessionAccumulator>();

  /** Adds one event; with `onlySession`, events of other sessions are skipped. */
  constructor(private readonly onlySession?: string) {}

  add(event: QoeEvent): void {
    const key = typeof event.session_key === 'string' ? event.session_key : baseSessionKey(event).base;
    if (this.onlySession !== undefined && key !== this.onlySession) return;
    let acc = this.sessions.get(key);
    if (!acc) {
      acc = new SessionAccumulator(key);
      this.sessions.set(key, acc);
    }
    acc.add(event);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Per-session QoE (sessions ordered by their first event, then id) and the aggregates. */
  result(opts: QoeOptions = {}): ExperimentQoe {
    const accs = [...this.sessions.values()].sort(
      (a, b) => a.first - b.first || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0),
    );
    const sessions = accs.map((a) => a.result(opts));
    return { sessions, aggregate: aggregate(sessions) };
  }
}

/** QoE of every session in the events, plus the aggregates over sessions. */
export function computeExperimentQoe(events: Iterable<QoeEvent>, opts: QoeOptions = {}): ExperimentQoe {
  const c = new QoeCollector();
  for (const e of events) c.add(e);
  return c.result(opts);
}

/** Same, from an async source such as a store cursor. */
export async function computeExperimentQoeAsync(
  events: AsyncIterable<QoeEvent>,
  opts: QoeOptions & { session?: string } = {},
): Promise<ExperimentQoe> {
  const c = new QoeCollector(opts.session);
  for await (const e of events) c.add(e);
  return c.result(opts);
}
