/**
 * The SQLite writer thread (started by sqlite-writer.ts): owns the write connection and runs
 * each group of rows as one IMMEDIATE transaction. COMMIT waits for fsync (synchronous=FULL)
 * and for locks held by other processes; doing that here keeps the HTTP event loop free.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'libsql';
import { INSERT_SQL, toRow, type WriterRow } from './sqlite-rows.ts';
import type { WriterMessage, WriterOptions, WriterReply } from './sqlite-writer.ts';

const port = parentPort;
if (!port) throw new Error('sqlite-writer-thread must run as a worker thread');
const opts = workerData as WriterOptions;

try {
  const db = new Database(opts.file);
  db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs}`);
  db.exec(`PRAGMA synchronous = ${opts.synchronous}`);
  const insert = db.prepare(INSERT_SQL);
  const insertAll = db.transaction((rows: WriterRow[]) => {
    const duplicates: number[] = [];
    let inserted = 0;
    for (let i = 0; i < rows.length; i++) {
      if (insert.run(...(rows[i] as WriterRow)).changes === 0) duplicates.push(i);
      else inserted++;
    }
    return { inserted, duplicates };
  });
  port.on('message', (msg: WriterMessage) => {
    if (msg.type === 'close') {
      db.close();
      port.close();
      return;
    }
    let reply: WriterReply;
    try {
      reply = { id: msg.id, ok: true, ...insertAll.immediate(msg.docs.map(toRow)) };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = { id: msg.id, ok: false, message: String(e.message), code: e.code };
    }
    port.postMessage(reply);
  });
  port.postMessage({ id: 0, ok: true, inserted: 0, duplicates: [] } satisfies WriterReply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, message: (err as Error).message } satisfies WriterReply);
}
