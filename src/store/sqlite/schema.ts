/**
 * The embedded store's tables. `events` holds every event (the whole document as JSON next to
 * the columns we filter and sort on, and the session key ingest decided for it); `sessions`
 * holds one summary row per session (explicit sessions and runs of split bases apart, by
 * `kind`); `session_events` indexes the events of explicit sessions; `experiment_types` the
 * event types seen per experiment.
 *
 * Events are written alone; `session_events` and the summaries of explicitly keyed sessions
 * follow them in a later transaction, the compaction (compaction.ts), which folds every event
 * after the mark in `compacted` (by seq). Keeping a per-session index and a summary row
 * current in the events' own transaction cost half of ingest (BENCHMARKS.md): with many
 * players, every commit touched a leaf page and a row per session. Reads of summaries and of
 * one session compact first (index.ts), so they see every stored event; after a crash, the
 * events after the mark are simply folded by the next compaction.
 *
 * `PRAGMA user_version` is the schema version. Files written before sessions were stored
 * (version 0 with an `events` table) are migrated at open: the columns are added and every
 * experiment is rebuilt from its events (write-ops.ts rebuild), once. Files of versions 1 and 2
 * (runs split at stream_initialized itself, one summary row per id) get their session tables
 * made anew and every experiment rebuilt, once.
 */

export const SCHEMA_VERSION = 3;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  event_id TEXT,
  timestamp REAL NOT NULL,
  event_type TEXT NOT NULL,
  session_id TEXT,
  video_id TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  doc TEXT NOT NULL,
  session_key TEXT,
  session_base TEXT
);
CREATE INDEX IF NOT EXISTS events_exp_ts ON events(experiment_id, timestamp, id);
CREATE INDEX IF NOT EXISTS events_exp_type_ts ON events(experiment_id, event_type, timestamp, id);
CREATE UNIQUE INDEX IF NOT EXISTS events_exp_event_id ON events(experiment_id, event_id)
  WHERE event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS sessions (
  experiment_id TEXT NOT NULL,
  session_key TEXT NOT NULL,
  kind INTEGER NOT NULL DEFAULT 0,
  base_key TEXT,
  run_no INTEGER NOT NULL DEFAULT 1,
  source TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_ts REAL NOT NULL,
  first_id TEXT NOT NULL DEFAULT '',
  last_ts REAL NOT NULL,
  video_id TEXT NOT NULL,
  video_at REAL,
  video_ref TEXT NOT NULL DEFAULT '',
  first_protocol TEXT NOT NULL,
  known_protocol TEXT,
  known_at REAL,
  known_ref TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL DEFAULT 1,
  changed_at REAL NOT NULL,
  stale INTEGER NOT NULL DEFAULT 1,
  qoe TEXT,
  PRIMARY KEY (experiment_id, session_key, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_events (
  experiment_id TEXT NOT NULL,
  session_key TEXT NOT NULL,
  timestamp REAL NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (experiment_id, session_key, timestamp, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS compacted (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO compacted (one, seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS experiment_types (
  experiment_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  PRIMARY KEY (experiment_id, event_type)
) WITHOUT ROWID;
`;

/** Indexes on the session columns: created after a migration added the columns. */
export const SESSION_INDEXES = `
DROP INDEX IF EXISTS events_exp_session;
CREATE INDEX IF NOT EXISTS events_exp_base_ts ON events(experiment_id, session_base, timestamp, id)
  WHERE session_base IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_base ON sessions(experiment_id, base_key, first_ts)
  WHERE base_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_stale ON sessions(changed_at) WHERE stale = 1;
`;

/**
 * The events of split bases (fallback keys), read through the base index: a run is a time range
 * of its base, so reading one run, placing an event and recomputing a run are ranges of it
 * (runs are not in `session_events`, so moving events between runs rewrites one column).
 */
export const BASE_INDEX = 'events_exp_base_ts';
export const BY_BASE = `events INDEXED BY ${BASE_INDEX}`;

/** Session kinds in the `sessions` table: a run of a split base never shares a row with an explicit session. */
export const KIND_SESSION = 0;
export const KIND_RUN = 1;
