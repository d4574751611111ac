/**
 * Keeps the cached QoE of every session current in the background: sessions whose events
 * changed and that have been quiet for a moment are recomputed (one at a time, through the
 * QoE service), so that experiment QoE reads summaries instead of events. A crash loses
 * nothing: a session whose QoE was not saved is still marked stale and is picked up again.
 */
import type { FastifyBaseLogger } from 'fastify';
import { logBackgroundError } from '../ops/background-errors.ts';
import { NO_WARMUP } from '../qoe/warmup.ts';
import type { EventStore } from '../store/types.ts';
import type { SessionQoeService } from './service.ts';

const BATCH = 50;
const IDLE_MS = 500;
const ERROR_BACKOFF_MS = 5000;

export class Summarizer {
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly service: SessionQoeService,
    private readonly opts: { quietMs: number; log?: FastifyBaseLogger; errorBackoffMs?: number },
  ) {}

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#pass().then((delay) => {
        this.#running = undefined;
        this.#schedule(delay);
      });
    }, ms);
    this.#timer.unref();
  }

  /** Summarises one batch of stale sessions; resolves with the delay before the next pass. */
  async #pass(): Promise<number> {
    try {
      const stale = await this.store.staleSessions(BATCH, (Date.now() - this.opts.quietMs) / 1000);
      for (const s of stale) {
        if (this.#stopped) return 0;
        const row = await this.store.getSession(s.experiment_id, s.session_id);
        if (row && !row.qoe) await this.service.qoe(s.experiment_id, row, NO_WARMUP);
      }
      return stale.length === BATCH ? 0 : IDLE_MS;
    } catch (err) {
      if (!this.#stopped) logBackgroundError(this.opts.log, 'session summaries: background pass failed', err);
      return this.opts.errorBackoffMs ?? ERROR_BACKOFF_MS;
    }
  }
}
