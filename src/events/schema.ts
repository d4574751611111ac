/**
 * The event model: one TypeBox definition gives the submit route its validation, its
 * TypeScript type and its OpenAPI entry, and the batch/CMCD paths validate with the same one.
 */
import { type Static, Type } from 'typebox';
import { UNKNOWN_VIDEO } from '../sessions/summary.ts';

/** Experiment ids become MongoDB collection names (metrics-{id}), so they are restricted. */
export const EXPERIMENT_ID_PATTERN = '^[A-Za-z0-9_.-]{1,128}$';
export const experimentIdRe = new RegExp(EXPERIMENT_ID_PATTERN);

export const ExperimentId = Type.String({
  pattern: EXPERIMENT_ID_PATTERN,
  description: '1-128 characters of letters, digits, "_", "-" or "."',
  examples: ['exp_001', 'exp_001_basic_terrestrial_dash-2025.12.03'],
});

/** A player event as POSTed to /api/submit. Unknown top-level fields are kept. */
export const SubmitEvent = Type.Object(
  {
    experiment_id: ExperimentId,
    timestamp: Type.Number({ description: 'Unix time in seconds (float) when the player saw the event' }),
    event_type: Type.String({ minLength: 1, maxLength: 128 }),
    protocol: Type.String({ maxLength: 64, description: 'e.g. "dash", "hls", "cmcd"' }),
    video_id: Type.Optional(Type.String({ maxLength: 2048, default: UNKNOWN_VIDEO })),
    payload: Type.Record(Type.String(), Type.Unknown(), {
      description: 'Event-specific data (a JSON object)',
    }),
    session_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    event_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Client-chosen id; a retry with the same (experiment_id, event_id) is stored once',
      }),
    ),
  },
  { additionalProperties: true },
);
export type SubmitEvent = Static<typeof SubmitEvent>;

/** Fields the server sets itself; a client may not send them. */
export const RESERVED_FIELDS = ['_id', 'stored_at', 'session_key', 'session_base'] as const;

/** The fields every event has, however it is held. */
interface EventFields {
  experiment_id: string;
  timestamp: number;
  event_type: string;
  protocol: string;
  video_id: string;
  payload: Record<string, unknown>;
  session_id?: string;
  event_id?: string;
  [extra: string]: unknown;
}

/** An event as written to a store: the submitted fields plus stored_at. */
export interface EventDoc extends EventFields {
  stored_at: Date;
}

/** An event read back: _id as a string, stored_at as an ISO 8601 string. */
export interface StoredEvent extends EventFields {
  _id: string;
  stored_at: string;
}
