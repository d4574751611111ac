/**
 * Caps on CMCD reports per second, per client and per session (audit 2026-12-05, N7: a 46-byte
 * gzip body of 1,000 reports stored 1,000 events each time it was sent). Token buckets: a
 * client's holds CMCD_MAX_REPORTS (one full request) and refills at
 * CMCD_REPORTS_PER_S_PER_CLIENT; a session's holds 10 s worth and refills at
 * CMCD_REPORTS_PER_S_PER_SESSION. In memory, per process; idle buckets are dropped.
 */

/** A session's bucket holds this many seconds of its rate. */
export const SESSION_BURST_S = 10;

/** Buckets are swept this often; a full bucket is the same as none. */
const SWEEP_MS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

class Buckets {
  readonly #b = new Map<string, Bucket>();
  #swept = 0;
  constructor(
    readonly perSecond: number,
    readonly capacity: number,
  ) {}

  /** Tokens in `key`'s bucket at `now` (ms). */
  #level(key: string, now: number): Bucket {
    const b = this.#b.get(key);
    if (!b) return { tokens: this.capacity, at: now };
    const tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    return { tokens, at: now };
  }

  /** Takes n tokens if there are; otherwise the seconds until there will be. */
  take(key: string, n: number, now: number): number {
    this.#sweep(now);
    const b = this.#level(key, now);
    if (b.tokens < n) return Math.ceil((n - b.tokens) / this.perSecond);
    b.tokens -= n;
    this.#b.set(key, b);
    return 0;
  }

  #sweep(now: number): void {
    if (now - this.#swept < SWEEP_MS) return;
    this.#swept = now;
    for (const [k, b] of this.#b) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.capacity) this.#b.delete(k);
    }
  }
}

export class ReportQuota {
  readonly #clients: Buckets | undefined;
  readonly #sessions: Buckets | undefined;

  constructor(opts: { perClient: number; perSession: number; maxReports: number }) {
    this.#clients =
      opts.perClient > 0 ? new Buckets(opts.perClient, Math.max(opts.maxReports, opts.perClient)) : undefined;
    this.#sessions =
      opts.perSession > 0 ? new Buckets(opts.perSession, opts.perSession * SESSION_BURST_S) : undefined;
  }

  /** Charges `n` reports to `client`: 0 when allowed, else the seconds to wait (nothing charged). */
  client(client: string, n: number, now = Date.now()): number {
    return this.#clients ? this.#clients.take(client, n, now) : 0;
  }

  /** Charges one report to a session: whether it may be stored. */
  session(key: string, now = Date.now()): boolean {
    return this.#sessions ? this.#sessions.take(key, 1, now) === 0 : true;
  }
}
