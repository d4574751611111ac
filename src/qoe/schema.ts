/**
 * JSON Schemas (TypeBox) of what the QoE functions return: the read-side routes' response
 * schemas, OpenAPI, and (through Static, in types.ts) the TypeScript types.
 */
import { Type } from 'typebox';

/** The numeric SessionQoe fields that get aggregated over sessions. */
export const AGGREGATED_METRICS = [
  'startup_time_s',
  'stall_count',
  'stall_time_s',
  'rebuffering_ratio',
  'avg_bitrate_bps',
  'switch_count',
  'latency_avg_s',
  'latency_p95_s',
  'dropped_frames',
  'played_time_s',
  'fatal_error',
  'exit_before_start',
] as const;

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const StallSchema = Type.Object({
  start: Type.Number({ description: 'Unix seconds' }),
  end: Type.Number({ description: 'Unix seconds' }),
  duration_s: Type.Number(),
});

export const SwitchSchema = Type.Object({
  timestamp: Type.Number({ description: 'Unix seconds' }),
  from_bps: NullableNumber,
  to_bps: NullableNumber,
});

export const SessionQoeSchema = Type.Object(
  {
    session_id: Type.String(),
    video_id: Type.Union([Type.String(), Type.Null()]),
    protocol: Type.Union([Type.String(), Type.Null()]),
    startup_time_s: NullableNumber,
    stall_count: NullableNumber,
    stall_time_s: NullableNumber,
    rebuffering_ratio: NullableNumber,
    avg_bitrate_bps: NullableNumber,
    switch_count: NullableNumber,
    latency_avg_s: NullableNumber,
    latency_p95_s: NullableNumber,
    dropped_frames: NullableNumber,
    played_time_s: NullableNumber,
    fatal_error: Type.Boolean(),
    exit_before_start: Type.Boolean(),
    stalls: Type.Array(StallSchema),
    switches: Type.Array(SwitchSchema),
    why_null: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'For figures that are null: why they cannot be known (by field name)',
      }),
    ),
  },
  { description: 'QoE of one session; definitions in docs/qoe.md. Null when no event feeds a figure.' },
);

export const SummarySchema = Type.Object({
  mean: NullableNumber,
  median: NullableNumber,
  p95: NullableNumber,
  n: Type.Integer({ description: 'Sessions with a value' }),
});

export const AggregateSchema = Type.Object(
  Object.fromEntries(AGGREGATED_METRICS.map((m) => [m, SummarySchema])) as Record<
    (typeof AGGREGATED_METRICS)[number],
    typeof SummarySchema
  >,
  {
    description:
      'Per metric over sessions, nulls ignored; p95 and median by linear interpolation (NumPy default)',
  },
);

export const WarmupSchema = Type.Union([
  Type.Object({ mode: Type.Literal('none') }),
  Type.Object({ mode: Type.Literal('seconds'), seconds: Type.Number() }),
  Type.Object({ mode: Type.Literal('fraction'), fraction: Type.Number() }),
]);

export const TimeseriesPointsSchema = Type.Array(Type.Tuple([Type.Number(), Type.Number()]), {
  description: '[Unix seconds, value], oldest first',
});
