/** Event types only our reporter SDK sends (packages/reporter); the shared ones are in testbed.ts. */
import { EventType } from '@stats-server/events';
import { nonNeg } from '../../events/values.ts';
import type { SignalRule } from './rule.ts';

export const REPORTER_RULES: readonly SignalRule[] = [
  {
    dialect: 'reporter',
    eventType: EventType.PLAY_REQUESTED,
    toSignals: (t) => [{ kind: 'play_request', t }],
  },
  {
    dialect: 'reporter',
    eventType: EventType.REBUFFER_ENDED,
    toSignals: (t, p) => {
      const ms = nonNeg(p.duration_ms);
      return [{ kind: 'stall_end', t, durationS: ms === null ? null : ms / 1000, current: true }];
    },
  },
  {
    dialect: 'reporter',
    eventType: EventType.SESSION_ENDED,
    toSignals: (t, p) => [{ kind: 'end', t, reason: p.reason === 'ended' ? 'ended' : 'session_end' }],
  },
];
