/**
 * Runs SQLite inserts on a worker thread (sqlite-writer-thread.ts) so that COMMIT's fsync and
 * waits for another process's lock never block the event loop serving HTTP. Documents are
 * cloned to the thread, which builds the rows and answers each group with its inserted count
 * and duplicates.
 * If the thread dies, every pending write fails (a 503: nothing claimed stored) and the next
 * write starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../errors.ts';
import type { EventDoc } from '../events/schema.ts';
import type { InsertResult } from './types.ts';

export interface WriterOptions {
  file: string;
  synchronous: 'FULL' | 'NORMAL';
  busyTimeoutMs: number;
}

export type WriterMessage = { type: 'insert'; id: number; docs: readonly EventDoc[] } | { type: 'close' };
export type WriterReply =
  | ({ id: number; ok: true } & InsertResult)
  | { id: number; ok: false; message: string; code?: string };

interface Pending {
  resolve: (r: InsertResult) => void;
  reject: (e: Error) => void;
}

const fromSource = import.meta.url.endsWith('.ts');
const threadFile = new URL(`./sqlite-writer-thread${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** Built code (dist/*.js) runs the compiled thread file; from source (tsx), the thread registers tsx first. */
function startThread(workerData: WriterOptions): Worker {
  if (!fromSource) return new Worker(threadFile, { workerData });
  // tsx's --import hooks do not reach worker threads on Node 20: register them in the thread.
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${api}).then((m) => { m.register(); return import(${JSON.stringify(threadFile.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export class SqliteWriter {
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #pending = new Map<number, Pending>();
  #seq = 0;

  constructor(private readonly opts: WriterOptions) {}

  /** Starts the thread (if not running) and waits until its connection is open. */
  start(): Promise<void> {
    if (this.#ready) return this.#ready;
    const worker = startThread(this.opts);
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WriterReply) => {
        if (reply.id === 0) {
          if (reply.ok) resolve();
          else reject(new StoreUnavailableError(`SQLite writer failed to open: ${reply.message}`));
          return;
        }
        const p = this.#pending.get(reply.id);
        if (!p) return;
        this.#pending.delete(reply.id);
        if (reply.ok) p.resolve({ inserted: reply.inserted, duplicates: reply.duplicates });
        else p.reject(new StoreUnavailableError(`SQLite write failed: ${reply.message}`));
      });
      const fail = (why: string) => {
        if (this.#worker !== worker) return;
        this.#worker = undefined;
        this.#ready = undefined;
        const err = new StoreUnavailableError(`SQLite writer thread ${why}`);
        reject(err);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      };
      worker.on('error', (err) => fail(`failed: ${err.message}`));
      worker.on('exit', (code) => fail(`exited (${code})`));
    });
    // A failed start is reported to the caller that awaits it, not as an unhandled rejection.
    this.#ready.catch(() => {});
    return this.#ready;
  }

  async insert(docs: readonly EventDoc[]): Promise<InsertResult> {
    await this.start();
    const worker = this.#worker;
    if (!worker) throw new StoreUnavailableError('SQLite writer thread is not running');
    const id = ++this.#seq;
    return new Promise<InsertResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'insert', id, docs } satisfies WriterMessage);
    });
  }

  /** Closes the thread's connection once the writes already posted are done. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise((r) => worker.once('exit', r));
    worker.postMessage({ type: 'close' } satisfies WriterMessage);
    await exited;
  }
}
