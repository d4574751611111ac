/**
 * The embedded store's tables. `events` holds every event (the whole document as JSON next to
 * the columns we filter and sort on, and the session key ingest decided for it); `sessions`
 * holds one summary row per session, maintained in the same transaction as the events;
 * `experiment_types` the event types seen per experiment.
 *
 * `PRAGMA user_version` is the schema version. Files written before sessions were stored
 * (version 0 with an `events` table) are migrated at open: the columns are added and every
 * experiment is rebuilt from its events (write-ops.ts rebuild), once.
 */

export const SCHEMA_VERSION = 1;

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
  base_key TEXT,
  run_no INTEGER NOT NULL DEFAULT 1,
  source TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_ts REAL NOT NULL,
  last_ts REAL NOT NULL,
  video_id TEXT NOT NULL,
  video_at REAL,
  first_protocol TEXT NOT NULL,
  known_protocol TEXT,
  known_at REAL,
  version INTEGER NOT NULL DEFAULT 1,
  changed_at REAL NOT NULL,
  stale INTEGER NOT NULL DEFAULT 1,
  qoe TEXT,
  PRIMARY KEY (experiment_id, session_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS experiment_types (
  experiment_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  PRIMARY KEY (experiment_id, event_type)
) WITHOUT ROWID;
`;

/** Indexes on the session columns: created after a migration added the columns. */
export const SESSION_INDEXES = `
CREATE INDEX IF NOT EXISTS events_exp_session ON events(experiment_id, session_key, timestamp);
CREATE INDEX IF NOT EXISTS events_exp_base ON events(experiment_id, session_base, timestamp, event_type)
  WHERE session_base IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_base ON sessions(experiment_id, base_key, first_ts)
  WHERE base_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_stale ON sessions(changed_at) WHERE stale = 1;
`;

/**
 * The events table read through the session index. That index ends at timestamp (no id: it
 * costs every insert), so for ORDER BY timestamp, id the planner prefers events_exp_ts and
 * filters the whole experiment by session_key, a scan of every event of the experiment for
 * one session (a 1,500-event session of a 600k-event experiment took 0.5 s). Named, the
 * session index is searched and only rows tied on timestamp are sorted by id.
 */
export const BY_SESSION = 'events INDEXED BY events_exp_session';
