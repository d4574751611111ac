/**
 * The storage interface. Every store (MongoDB, embedded SQLite) implements it and passes the
 * same contract suites (test/integration/api.contract.test.ts, read.test.ts, experiments.test.ts,
 * ingest.*.test.ts and sessions.store.test.ts run every test against both).
 */
import type { EventDoc, StoredEvent } from '../events/schema.ts';
import type { SessionQoe } from '../qoe/types.ts';
import type { SessionSummary } from '../sessions/summary.ts';

export type { SessionSummary };

/** A read of one experiment's events in (timestamp, _id) order (the read side). */
export interface ReadQuery {
  experimentId: string;
  eventType?: string;
  /** Inclusive lower bound on timestamp (0 is a valid bound). */
  startTime?: number;
  /** Inclusive upper bound on timestamp. */
  endTime?: number;
  /** Only this session (the id ingest stored with each event: src/sessions/key.ts). */
  session?: string;
  /**
   * Which of two sessions sharing `session` to read: the run of a split base (true) or the
   * explicit session (false); unset: the explicit session when there is one, else the run.
   */
  sessionRun?: boolean;
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
  /**
   * Events the store refused for good (a value it cannot hold) while it stored the others:
   * their index into the input and the store's reason. Absent when there were none.
   */
  failed?: Array<{ index: number; message: string }>;
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

/** A session's summary row: maintained at ingest, with its cached QoE. */
export interface SessionRow extends SessionSummary {
  /** Changes whenever an event of the session is stored or moved; QoE caches are keyed by it. */
  version: number;
  /** The cached QoE (no warm-up) when it is current for `version`, else null. */
  qoe: SessionQoe | null;
  /** The base a run of a split base was split from; null for an explicit session. */
  base?: string | null;
}

/** A session whose cached QoE is out of date. */
export interface StaleSession {
  experiment_id: string;
  session_id: string;
  version: number;
}

export interface RebuildResult {
  experiments: number;
  sessions: number;
  events: number;
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
  /**
   * Optional: the store's own encoding of events it will be asked to insert, done when they
   * are accepted rather than when their group's turn to be written comes (group-commit.ts),
   * so that it overlaps the write before it. insertMany must work without it.
   */
  prepare?(events: readonly EventDoc[]): void;
  /**
   * An opaque mark of the newest event stored for this experiment (insertion order), or null
   * when it has none. Every event acknowledged before the call is at or before the mark.
   */
  readMark(experimentId: string): Promise<string | null>;
  /** Events sorted by (timestamp, _id), streamed in batches (arrays of a few thousand at most). */
  readEvents(query: ReadQuery): AsyncIterable<StoredEvent[]>;
  /** The same read as readEvents, each event as JSON text (lets a store skip parse + stringify). */
  readEventsJson(query: ReadQuery): AsyncIterable<JsonEvent[]>;
  /** Every experiment, from the session summaries (cost in sessions, not events). */
  listExperiments(): Promise<ExperimentSummary[]>;
  /** Sessions of one experiment in compareSessions order; [] when it has no events. */
  listSessions(experimentId: string): Promise<SessionRow[]>;
  /** One session's summary, or null. */
  getSession(experimentId: string, sessionId: string): Promise<SessionRow | null>;
  /** Caches a session's QoE (no warm-up), unless the session changed since `version`. */
  saveSessionQoe(experimentId: string, sessionId: string, version: number, qoe: SessionQoe): Promise<void>;
  /** Sessions whose cached QoE is out of date and which changed before `changedBefore` (Unix s). */
  staleSessions(limit: number, changedBefore: number): Promise<StaleSession[]>;
  /** Re-derives stored session keys and summaries from the events (one experiment, or all). */
  rebuildSummaries(experimentId?: string): Promise<RebuildResult>;
  /** Removes an experiment's events and summaries; resolves with how many events there were. */
  deleteExperiment(experimentId: string): Promise<number>;
  close(): Promise<void>;
}
