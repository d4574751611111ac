/** Shared by the QoE tests: a float comparison, CMCD timestamps, and QoE over a whole experiment. */
import assert from 'node:assert/strict';
import {
  type AggregatedMetric,
  aggregate,
  computeSessionQoe,
  type QoeEvent,
  type QoeOptions,
  type SessionQoe,
  type Summary,
} from '../../src/qoe/index.ts';
import { baseSessionKey } from '../../src/sessions/key.ts';

/** The Unix second the hand-built sessions start at. */
export const T0 = 1_700_000_000;

/** `ts` of a CMCD report sent `s` seconds after `t0`, as players write it (Unix ms). */
export function cmcdTs(s: number, t0 = T0): number {
  return Math.round((t0 + s) * 1000);
}

/**
 * Equal within 1e-5 (timestamps near 1.7e9 carry ~2e-7 s of float error), or one part in 1e8
 * for large values (bitrates are rounded to 1e-3 b/s).
 */
export function near(actual: number | null, expected: number, what: string): void {
  const eps = Math.max(1e-5, Math.abs(expected) * 1e-8);
  assert.ok(
    actual !== null && Math.abs(actual - expected) < eps,
    `${what}: got ${actual}, expected ${expected}`,
  );
}

/**
 * QoE of every session in the events, as the QoE route computes it: events grouped by session
 * (base key), sessions ordered by first event then id, each through computeSessionQoe, then aggregated.
 */
export function experimentQoe(
  events: Iterable<QoeEvent>,
  opts: QoeOptions = {},
): { sessions: SessionQoe[]; aggregate: Record<AggregatedMetric, Summary> } {
  const bySession = new Map<string, QoeEvent[]>();
  for (const e of events) {
    // Single-run test data: the base key is the session (runs: src/sessions/runs.ts).
    const key = baseSessionKey(e).base;
    const list = bySession.get(key);
    if (list) list.push(e);
    else bySession.set(key, [e]);
  }
  const first = (list: QoeEvent[]) => Math.min(...list.map((e) => e.timestamp));
  const ordered = [...bySession.entries()].sort(
    ([a, x], [b, y]) => first(x) - first(y) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const sessions = ordered.map(([key, list]) => computeSessionQoe(list, { ...opts, sessionId: key }));
  return { sessions, aggregate: aggregate(sessions) };
}
