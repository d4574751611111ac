/**
 * The storage interface. Every store (MongoDB, embedded SQLite) implements it and passes the
 * same contract suite (test/store.contract.test.ts).
 */
import type { EventDoc, StoredEvent } from '../events/schema.ts';

export interface MetricsQuery {
  experimentId: string;
  eventType?: string;
  /** Inclusive lower bound on timestamp (0 is a valid bound). */
  startTime?: number;
  /** Inclusive upper bound on timestamp. */
  endTime?: number;
  /** Resume after this position (from a previous page); opaque to callers. */
  after?: { timestamp: number; id: string };
  limit?: number;
}

export interface InsertResult {
  /** Events newly written. */
  inserted: number;
  /** Indexes (into the input array) of events whose (experiment_id, event_id) was already stored. */
  duplicates: number[];
}

export interface StoreHealth {
  ok: boolean;
  /** Short reason when not ok; never credentials. */
  detail?: string;
}

export interface ExperimentSummary {
  experiment_id: string;
  count: number;
  first_timestamp: number | null;
  last_timestamp: number | null;
  event_types: string[];
  sessions: number;
}

export interface SessionSummary {
  session_id: string;
  /** How the session was keyed: an explicit session_id, or the video_id fallback. */
  source: 'session_id' | 'video_id';
  count: number;
  first_timestamp: number;
  last_timestamp: number;
  video_id: string;
  protocol: string;
}

export interface EventStore {
  readonly kind: 'sqlite' | 'mongodb';
  /** Opens files / starts connecting. Must not fail when a remote backend is down. */
  open(): Promise<void>;
  health(): Promise<StoreHealth>;
  /**
   * Durably writes events (possibly of several experiments) in as few round trips as the
   * backend allows. Resolves only once committed; throws StoreUnavailableError otherwise.
   * Duplicates of an (experiment_id, event_id) already stored are skipped, not errors.
   */
  insertMany(events: readonly EventDoc[]): Promise<InsertResult>;
  /** Events of one experiment, sorted by (timestamp, _id), streamed. */
  find(query: MetricsQuery): AsyncIterable<StoredEvent>;
  close(): Promise<void>;
}
