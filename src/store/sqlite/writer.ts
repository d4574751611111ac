/**
 * Runs every SQLite write on a worker thread (writer-thread.ts) so that COMMIT's fsync and
 * waits for another process's lock never block the event loop serving HTTP. Messages are
 * answered in order; each carries its result or error.
 * If the thread dies, every pending write fails (a 503: nothing claimed stored) and the next
 * write starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import { StoreFailedError, StoreUnavailableError } from '../../errors.ts';
import type { InsertResult, RebuildResult } from '../types.ts';
import type { PreparedRows } from './rows.ts';

export interface WriterOptions {
  file: string;
  synchronous: 'FULL' | 'NORMAL';
  busyTimeoutMs: number;
  /** Silence (seconds) that splits a fallback-keyed session into runs; 0: never. */
  sessionGapS: number;
}

type Request =
  | { type: 'insert'; rows: PreparedRows }
  | { type: 'compact' }
  | { type: 'delete'; experimentId: string; chunk: number }
  | { type: 'saveQoe'; experimentId: string; sessionKey: string; version: number; qoe: string }
  | { type: 'rebuild'; experimentId?: string | undefined };

/** `postedAt` (Date.now()) bounds the whole wait, queue included: see writer-thread.ts. */
export type WriterMessage = (Request & { id: number; postedAt: number }) | { type: 'close' };
export type WriterReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string; code?: string };

/** SQLite result codes (and ours) that no retry can fix. */
const PERMANENT = /^(SQLITE_(FULL|READONLY|CORRUPT|NOTADB|CANTOPEN|IOERR)|STORE_FILE_GONE)/;

interface Pending {
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

const fromSource = import.meta.url.endsWith('.ts');
const threadFile = new URL(`./writer-thread${fromSource ? '.ts' : '.js'}`, import.meta.url);

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
  #failure: string | undefined;

  constructor(private readonly opts: WriterOptions) {}

  /** Starts the thread (if not running) and waits until its connection is open. */
  start(): Promise<void> {
    if (this.#ready) return this.#ready;
    const worker = startThread(this.opts);
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WriterReply) => {
        if (reply.id === 0) {
          // Idle, the thread must not keep the process alive (a store opened and never closed,
          // a script that is done); it is referenced again while writes are pending.
          worker.unref();
          if (reply.ok) resolve();
          else reject(new StoreUnavailableError(`SQLite writer failed to open: ${reply.message}`));
          return;
        }
        const p = this.#pending.get(reply.id);
        if (!p) return;
        this.#pending.delete(reply.id);
        if (this.#pending.size === 0) worker.unref();
        if (reply.ok) {
          this.#failure = undefined;
          p.resolve(reply.result);
        } else p.reject(this.#errorOf(reply.message, reply.code));
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

  /**
   * Why writes cannot succeed until an operator acts (the last write failed for good), or
   * undefined. Cleared by the next successful write.
   */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Permanent conditions (disk full, read-only, damaged, file gone) vs. a lock wait. */
  #errorOf(message: string, code: string | undefined): Error {
    if (code && PERMANENT.test(code)) {
      this.#failure = `${code}: ${message}`;
      return new StoreFailedError(`SQLite write failed (${code}): ${message}`);
    }
    return new StoreUnavailableError(`SQLite write failed: ${message}`);
  }

  async #call(req: Request): Promise<unknown> {
    await this.start();
    const worker = this.#worker;
    if (!worker) throw new StoreUnavailableError('SQLite writer thread is not running');
    const id = ++this.#seq;
    return new Promise<unknown>((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id, postedAt: Date.now() } satisfies WriterMessage);
    });
  }

  insert(rows: PreparedRows): Promise<InsertResult> {
    return this.#call({ type: 'insert', rows }) as Promise<InsertResult>;
  }

  /** Folds every stored event into session summaries and the session index (compaction.ts). */
  compact(): Promise<number> {
    return this.#call({ type: 'compact' }) as Promise<number>;
  }

  deleteChunk(experimentId: string, chunk: number): Promise<{ events: number; done: boolean }> {
    return this.#call({ type: 'delete', experimentId, chunk }) as Promise<{ events: number; done: boolean }>;
  }

  saveQoe(experimentId: string, sessionKey: string, version: number, qoe: string): Promise<boolean> {
    return this.#call({ type: 'saveQoe', experimentId, sessionKey, version, qoe }) as Promise<boolean>;
  }

  rebuild(experimentId?: string): Promise<RebuildResult> {
    return this.#call({ type: 'rebuild', experimentId }) as Promise<RebuildResult>;
  }

  /** Closes the thread's connection once the writes already posted are done. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise((r) => worker.once('exit', r));
    worker.ref(); // until its connection is closed
    worker.postMessage({ type: 'close' } satisfies WriterMessage);
    await exited;
  }
}
