/**
 * The SQLite writer thread (started by writer.ts): owns the only write connection and runs
 * every write of the store (write-ops.ts), each as its own IMMEDIATE transaction. COMMIT waits
 * for fsync (synchronous=FULL) and for locks held by other processes; doing that here keeps
 * the HTTP event loop free. It also creates and migrates the schema at start.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'libsql';
import { SCHEMA, SCHEMA_VERSION, SESSION_INDEXES } from './schema.ts';
import { WriteOps } from './write-ops.ts';
import type { WriterMessage, WriterOptions, WriterReply } from './writer.ts';

const port = parentPort;
if (!port) throw new Error('writer-thread must run as a worker thread');
const opts = workerData as WriterOptions;

type Db = InstanceType<typeof Database>;

/**
 * When the thread folds its inserts into sessions on its own (reads also ask for it): once this
 * many events wait, or this long after the first of them. Larger folds write each session's
 * index pages less often; the wait bounds what a read may have to fold first.
 */
const COMPACT_EVENTS = 16_384;
const COMPACT_AFTER_MS = 500;

/** Creates the tables, or migrates a file written before sessions were stored. */
function prepare(db: Db, ops: () => WriteOps): void {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version >= SCHEMA_VERSION) return;
  const cols = db.prepare("SELECT name FROM pragma_table_info('events')").all() as { name: string }[];
  const legacy = cols.length > 0 && !cols.some((c) => c.name === 'session_key');
  if (legacy) {
    db.exec('ALTER TABLE events ADD COLUMN session_key TEXT');
    db.exec('ALTER TABLE events ADD COLUMN session_base TEXT');
  } else if (cols.length > 0) {
    // Versions 1 and 2: runs were split at stream_initialized itself and a run could share its
    // summary row with an explicit session of the same id. The session tables are made anew.
    db.exec(
      'DROP TABLE IF EXISTS sessions; DROP TABLE IF EXISTS session_events; DROP INDEX IF EXISTS events_exp_base',
    );
  }
  db.exec(SCHEMA);
  db.exec(SESSION_INDEXES);
  if (cols.length > 0) ops().rebuild();
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}

try {
  const db = new Database(opts.file);
  db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${opts.synchronous}`);
  db.exec(SCHEMA);
  let ops: WriteOps | undefined;
  const getOps = () => {
    ops ??= new WriteOps(db, opts.sessionGapS);
    return ops;
  };
  prepare(db, getOps);
  db.exec(SESSION_INDEXES);
  // The file this connection writes: if the path no longer names it (the data directory was
  // removed or replaced under the running server), writes would be acknowledged and lost.
  const opened = fs.statSync(opts.file);
  const sameFile = () => {
    try {
      const now = fs.statSync(opts.file);
      return now.ino === opened.ino && now.dev === opened.dev;
    } catch {
      return false;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const compactSoon = (o: WriteOps) => {
    if (o.uncompacted >= COMPACT_EVENTS) {
      clearTimeout(timer);
      timer = undefined;
      o.compact();
    } else if (o.uncompacted > 0 && !timer) {
      timer = setTimeout(() => {
        timer = undefined;
        try {
          if (sameFile()) getOps().compact();
        } catch {
          // Left for the next trigger: reads and later inserts compact again.
        }
      }, COMPACT_AFTER_MS);
    }
  };
  // busyTimeoutMs is the longest a write waits, from when it was posted: a write queued behind
  // another one that waits for a lock must not wait a full timeout of its own after it (that
  // made submits wait 9.5 s where 5 s is documented). The pragma changes only when the queue
  // wait has eaten into the budget, so an idle queue pays nothing.
  let busyNow = opts.busyTimeoutMs;
  const waitAtMost = (postedAt: number) => {
    const left = opts.busyTimeoutMs - (Date.now() - postedAt);
    if (left <= 0) {
      throw Object.assign(new Error(`waited ${opts.busyTimeoutMs} ms for the database lock`), {
        code: 'SQLITE_BUSY',
      });
    }
    const want = left > opts.busyTimeoutMs - 50 ? opts.busyTimeoutMs : left;
    if (want !== busyNow) {
      db.exec(`PRAGMA busy_timeout = ${want}`);
      busyNow = want;
    }
  };
  port.on('message', (msg: WriterMessage) => {
    if (msg.type === 'close') {
      clearTimeout(timer);
      try {
        getOps().compact();
      } catch {
        // A file that can no longer be written: the next open folds what is left.
      }
      db.close();
      port.close();
      return;
    }
    let reply: WriterReply;
    try {
      if (!sameFile()) {
        throw Object.assign(new Error(`${opts.file} was removed or replaced while the server ran`), {
          code: 'STORE_FILE_GONE',
        });
      }
      waitAtMost(msg.postedAt);
      const o = getOps();
      let result: unknown;
      switch (msg.type) {
        case 'insert':
          result = o.insert(msg.rows);
          break;
        case 'compact':
          result = o.compact();
          break;
        case 'delete':
          result = o.deleteChunk(msg.experimentId, msg.chunk);
          break;
        case 'saveQoe':
          result = o.saveQoe(msg.experimentId, msg.sessionKey, msg.version, msg.qoe);
          break;
        case 'rebuild':
          result = o.rebuild(msg.experimentId);
          break;
      }
      reply = { id: msg.id, ok: true, result };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = { id: msg.id, ok: false, message: String(e.message), code: e.code };
    }
    port.postMessage(reply);
    if (msg.type === 'insert' && reply.ok) {
      try {
        compactSoon(getOps());
      } catch {
        // As above: the events are stored; the next compaction folds them.
      }
    }
  });
  port.postMessage({ id: 0, ok: true, result: null } satisfies WriterReply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, message: (err as Error).message } satisfies WriterReply);
}
