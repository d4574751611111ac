/**
 * Group commit: events from concurrent requests are coalesced into one bulk write, flushed
 * when a group reaches maxBatchEvents or its oldest event has waited maxDelayMs. Every caller
 * is answered only after the write holding its events has committed (or failed).
 *
 * The queue is bounded: past maxQueuedEvents, submit() rejects at once with OVERLOADED rather
 * than buffering without limit; a request larger than the whole queue is a 413, never a 503.
 */
import { apiError } from '../errors.ts';
import type { EventDoc } from '../events/schema.ts';
import type { EventStore, InsertResult } from '../store/types.ts';

export interface GroupCommitOptions {
  enabled: boolean;
  maxBatchEvents: number;
  maxDelayMs: number;
  maxQueuedEvents: number;
  /**
   * Group writes in flight at once (default 1). One write at a time makes the next group as
   * large as possible: on FerretDB it gave more events/s, a third of the p99 and less CPU
   * than 4 (BENCHMARKS.md); a remote MongoDB with high round-trip time may want 2-4.
   */
  maxInflight?: number | undefined;
}

/** Told about every store write (metrics); called once per write, not per request. */
export interface CommitObserver {
  written(events: number, seconds: number, result: InsertResult | undefined, error?: unknown): void;
}

interface Pending {
  docs: readonly EventDoc[];
  resolve: (r: InsertResult) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter {
  #queue: Pending[] = [];
  #queuedEvents = 0;
  /** Accepted events not yet answered: queued plus in flight. */
  #outstanding = 0;
  #inflight = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #maxInflight: number;
  #observer: CommitObserver | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly opts: GroupCommitOptions,
  ) {
    this.#maxInflight = opts.maxInflight ?? 1;
  }

  /** Registers the one observer of store writes (the metrics plugin). */
  observe(observer: CommitObserver): void {
    this.#observer = observer;
  }

  /** store.insertMany, timed for the observer. */
  #write(docs: readonly EventDoc[]): Promise<InsertResult> {
    const observer = this.#observer;
    if (!observer) return this.store.insertMany(docs);
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    return this.store.insertMany(docs).then(
      (r) => {
        observer.written(docs.length, seconds(), r);
        return r;
      },
      (err) => {
        observer.written(docs.length, seconds(), undefined, err);
        throw err;
      },
    );
  }

  /** Events accepted and not yet committed. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Stores docs; resolves once they are committed (duplicates indexed as in the input). */
  submit(docs: readonly EventDoc[]): Promise<InsertResult> {
    if (docs.length === 0) return Promise.resolve({ inserted: 0, duplicates: [] });
    if (docs.length > this.opts.maxQueuedEvents) {
      // Retrying cannot help: the queue could never hold it, so this is the client's 413.
      return Promise.reject(
        apiError(
          'TOO_MANY_EVENTS',
          `The request holds ${docs.length} events; this server stores at most ${this.opts.maxQueuedEvents} per request (INGEST_MAX_QUEUED_EVENTS)`,
        ),
      );
    }
    if (this.#outstanding + docs.length > this.opts.maxQueuedEvents) {
      return Promise.reject(apiError('OVERLOADED', undefined, { retryAfter: 1 }));
    }
    this.#outstanding += docs.length;
    this.store.prepare?.(docs);
    const settle = <T>(p: Promise<T>) =>
      p.finally(() => {
        this.#outstanding -= docs.length;
      });
    if (!this.opts.enabled) return settle(this.#write(docs));
    return settle(
      new Promise<InsertResult>((resolve, reject) => {
        this.#queue.push({ docs, resolve, reject });
        this.#queuedEvents += docs.length;
        this.#schedule();
      }),
    );
  }

  #schedule(): void {
    if (this.#inflight >= this.#maxInflight) return; // the finishing write flushes again
    if (this.#queuedEvents >= this.opts.maxBatchEvents || this.opts.maxDelayMs === 0) {
      this.#flush();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), this.opts.maxDelayMs);
    }
  }

  #flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#queue.length === 0 || this.#inflight >= this.#maxInflight) return;
    // Take whole requests up to maxBatchEvents (a single larger request goes alone).
    const group: Pending[] = [];
    let n = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Pending;
      if (group.length > 0 && n + next.docs.length > this.opts.maxBatchEvents) break;
      group.push(next);
      n += next.docs.length;
      this.#queue.shift();
    }
    this.#queuedEvents -= n;
    this.#inflight++;
    const all = group.length === 1 ? (group[0] as Pending).docs : group.flatMap((g) => g.docs);
    this.#write(all).then(
      (result) => {
        this.#inflight--;
        distribute(group, result);
        this.#afterWrite();
      },
      (err) => {
        this.#inflight--;
        for (const g of group) g.reject(err);
        this.#afterWrite();
      },
    );
    if (this.#queue.length > 0) this.#schedule();
  }

  #afterWrite(): void {
    if (this.#queue.length > 0) {
      // Whatever queued while we wrote is a group already: write it now.
      this.#flush();
    }
  }

  /** Writes everything queued and waits for in-flight writes (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.#outstanding > 0) {
      this.#flush();
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/**
 * Splits one write's result back into per-request results: each request learns only its own
 * duplicates and refused events (a store that refuses one document stores the others, so the
 * other requests of the group succeed).
 */
function distribute(group: Pending[], result: InsertResult): void {
  let offset = 0;
  let d = 0;
  const dups = result.duplicates;
  const failed = [...(result.failed ?? [])].sort((a, b) => a.index - b.index);
  let f = 0;
  for (const g of group) {
    const end = offset + g.docs.length;
    const mine: number[] = [];
    while (d < dups.length && (dups[d] as number) < end) {
      mine.push((dups[d] as number) - offset);
      d++;
    }
    const refused: Array<{ index: number; message: string }> = [];
    while (f < failed.length && (failed[f]?.index as number) < end) {
      const x = failed[f] as { index: number; message: string };
      refused.push({ index: x.index - offset, message: x.message });
      f++;
    }
    g.resolve({
      inserted: g.docs.length - mine.length - refused.length,
      duplicates: mine,
      ...(refused.length > 0 ? { failed: refused } : {}),
    });
    offset = end;
  }
}
