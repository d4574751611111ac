/**
 * The one place that knows event dialects: a registry of rules, each mapping one event type
 * (or a family of them) to dialect-free signals in our units; everything after this module
 * reads signals only. Dialects: the Livestreaming-Testbed's dash.js client and our reporter
 * SDK (same names, the reporter adds fields; docs/events.md), and CMCD v2 event-mode reports.
 * To add a dialect, add a module of rules and list it here.
 */
import type { QoeEvent, Signal } from '../types.ts';
import { CMCD_RULES } from './cmcd.ts';
import { REPORTER_RULES } from './reporter.ts';
import type { SignalRule } from './rule.ts';
import { TESTBED_RULES } from './testbed.ts';

export type { SignalRule } from './rule.ts';

/** Every rule, in lookup order. */
export const SIGNAL_RULES: readonly SignalRule[] = [...TESTBED_RULES, ...REPORTER_RULES, ...CMCD_RULES];

const exact = new Map<string, SignalRule>();
const prefixes: Array<[string, SignalRule]> = [];
for (const r of SIGNAL_RULES) {
  if (r.eventType.endsWith('*')) prefixes.push([r.eventType.slice(0, -1), r]);
  else exact.set(r.eventType, r);
}

function ruleFor(eventType: string): SignalRule | undefined {
  const hit = exact.get(eventType);
  if (hit) return hit;
  for (const [prefix, rule] of prefixes) if (eventType.startsWith(prefix)) return rule;
  return undefined;
}

/** The signals one event carries (empty for events QoE does not use, or a bad timestamp). */
export function toSignals(event: QoeEvent): Signal[] {
  const t = event.timestamp;
  if (typeof t !== 'number' || !Number.isFinite(t)) return [];
  const rule = ruleFor(event.event_type);
  if (!rule) return [];
  const payload = event.payload && typeof event.payload === 'object' ? event.payload : {};
  return rule.toSignals(t, payload, event.event_type);
}
