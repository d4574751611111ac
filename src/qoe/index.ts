/**
 * QoE: pure functions from player events (testbed dash.js, reporter SDK, CMCD `cmcd_*`) to
 * per-session figures, aggregates and plot series. No I/O. Definitions: docs/qoe.md.
 */
export { aggregate, summarize } from './aggregate.ts';
export { SIGNAL_RULES, type SignalRule, toSignals } from './dialects/index.ts';
export {
  AGGREGATED_METRICS,
  AggregateSchema,
  SessionQoeSchema,
  StallSchema,
  SummarySchema,
  SwitchSchema,
  TimeseriesPointsSchema,
  WarmupSchema,
} from './schema.ts';
export { computeSessionQoe, SessionAccumulator } from './session.ts';
export { quantile } from './stats.ts';
export {
  DEFAULT_MAX_POINTS,
  downsample,
  type Point,
  TIMESERIES_METRICS,
  TIMESERIES_UNITS,
  type Timeseries,
  type TimeseriesMetric,
  timeseries,
  timeseriesOf,
} from './timeseries.ts';
export type {
  AggregatedMetric,
  QoeEvent,
  QoeOptions,
  SessionQoe,
  Signal,
  Stall,
  Summary,
  Switch,
  Warmup,
} from './types.ts';
export { NO_WARMUP, parseWarmup, trimPoint } from './warmup.ts';
