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

/** A read of one experiment's events in (timestamp, _id) order (the read side). */
export interface ReadQuery {
  experimentId: string;
  eventType?: string;
  /** Inclusive lower bound on timestamp (0 is a valid bound). */
  startTime?: number;
  /** Inclusive upper bound on timestamp. */
  endTime?: number;
  /** Only this session (key rule: src/events/session.ts). */
  session?: string;
  /** Resume strictly after this (timestamp, _id) position. */
  after?: { timestamp: number; id: string };
  /**
   * Only events stored at or before this mark (from readMark): pins the read to the events
   * that existed when it began, so paging never sees the set change under it.
   */
  mark?: string;
  limit?: number;
}

/** An event already serialised as JSON (the same text JSON.stringify of the StoredEvent gives). */
export interface JsonEvent {
  _id: string;
  timestamp: number;
  json: string;
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
  /**
   * An opaque mark of the newest event stored for this experiment (insertion order), or null
   * when it has none. Every event acknowledged before the call is at or before the mark.
   */
  readMark(experimentId: string): Promise<string | null>;
  /** Events sorted by (timestamp, _id), streamed in batches (arrays of a few thousand at most). */
  readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]>;
  /** The same read as readEvents, each event as JSON text (lets a store skip parse + stringify). */
  readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]>;
  /** An experiment's events one session at a time: each yielded array is one whole session. */
  readSessions(experimentId: string): AsyncIterable<StoredEvent[]>;
  listExperiments(): Promise<ExperimentSummary[]>;
  /** Sessions of one experiment, ordered by first timestamp; [] when it has no events. */
  listSessions(experimentId: string): Promise<SessionSummary[]>;
  /** Removes an experiment's events; resolves with how many there were. */
  deleteExperiment(experimentId: string): Promise<number>;
  close(): Promise<void>;
}
