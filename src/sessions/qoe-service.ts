/**
 * A session's QoE and time series, computed from its stored events only when the summary's
 * cached QoE is out of date (or a warm-up is asked for), then cached.
 *
 * Computations are shared (concurrent requests for the same session and version wait for one
 * computation) and bounded (at most `maxConcurrent` at once). Events are streamed from the
 * store and folded as they come (stream.ts): a time series holds at most its points, a QoE
 * computation its stalls, switches and latency samples, never the session's events.
 */

import type { FastifyBaseLogger } from 'fastify';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Timeseries, TimeseriesMetric } from '../qoe/timeseries.ts';
import type { SessionQoe, Warmup } from '../qoe/types.ts';
import type { EventStore, SessionRow } from '../store/types.ts';
import { streamTimeseries } from './series.ts';
import { streamSessionQoe } from './stream.ts';

/** Cached QoE with a warm-up (the no-warm-up figure lives in the store's summary). */
const WARMUP_CACHE_SIZE = 1000;

const warmupKey = (w: Warmup): string =>
  w.mode === 'none' ? 'none' : w.mode === 'seconds' ? `s${w.seconds}` : `f${w.fraction}`;

export class SessionQoeService {
  readonly #store: EventStore;
  readonly #limit: LimitFunction;
  readonly #inflight = new Map<string, Promise<unknown>>();
  /** Insertion-ordered, so the oldest entry is the first to go. */
  readonly #warmups = new Map<string, SessionQoe>();
  readonly #log: FastifyBaseLogger | undefined;

  constructor(store: EventStore, opts: { maxConcurrent?: number; log?: FastifyBaseLogger } = {}) {
    this.#store = store;
    this.#limit = pLimit(opts.maxConcurrent ?? 2);
    this.#log = opts.log;
  }

  /** The session's QoE over its events minus the warm-up. */
  async qoe(experimentId: string, row: SessionRow, warmup: Warmup): Promise<SessionQoe> {
    const plain = warmup.mode === 'none';
    if (plain && row.qoe) return row.qoe;
    const id = `qoe\u0000${experimentId}\u0000${row.session_id}\u0000${row.version}\u0000${warmupKey(warmup)}`;
    if (!plain) {
      const hit = this.#warmups.get(id);
      if (hit) return hit;
    }
    const qoe = await this.#shared(id, () =>
      streamSessionQoe(
        () => this.#store.readEvents({ experimentId, session: row.session_id }),
        row.session_id,
        { warmup },
        { first: row.first_timestamp, last: row.last_timestamp },
      ),
    );
    if (plain) {
      await this.#store.saveSessionQoe(experimentId, row.session_id, row.version, qoe).catch((err) => {
        this.#log?.warn({ err, experiment_id: experimentId }, 'could not cache a session QoE');
      });
    } else {
      this.#warmups.set(id, qoe);
      if (this.#warmups.size > WARMUP_CACHE_SIZE) {
        const oldest = this.#warmups.keys().next().value;
        if (oldest !== undefined) this.#warmups.delete(oldest);
      }
    }
    return qoe;
  }

  /** One metric of the session over time, downsampled to at most maxPoints points. */
  timeseries(
    experimentId: string,
    row: SessionRow,
    metric: TimeseriesMetric,
    maxPoints: number,
  ): Promise<Timeseries> {
    const id = `ts\u0000${experimentId}\u0000${row.session_id}\u0000${row.version}\u0000${metric}\u0000${maxPoints}`;
    return this.#shared(id, () =>
      streamTimeseries(
        () => this.#store.readEvents({ experimentId, session: row.session_id }),
        metric,
        maxPoints,
        {
          first: row.first_timestamp,
          last: row.last_timestamp,
        },
      ),
    );
  }

  #shared<T>(id: string, compute: () => Promise<T>): Promise<T> {
    const running = this.#inflight.get(id);
    if (running) return running as Promise<T>;
    const p = this.#limit(compute).finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, p);
    return p;
  }
}
