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
import { logBackgroundError } from '../ops/background-errors.ts';
import { streamTimeseries } from '../qoe/series-stream.ts';
import { foldSessions, streamSessionQoe } from '../qoe/stream.ts';
import type { Timeseries, TimeseriesMetric } from '../qoe/timeseries.ts';
import type { SessionQoe, Warmup } from '../qoe/types.ts';
import type { EventStore, SessionRow } from '../store/types.ts';

/** QoE figures kept in memory (the no-warm-up ones also live in the store's summaries). */
const COMPUTED_CACHE_SIZE = 1000;

/** The read of one stored session (a run and an explicit session may share an id). */
const sessionOf = (row: SessionRow) => ({
  session: row.session_id,
  ...(row.base === undefined ? {} : { sessionRun: row.base !== null }),
});

const warmupKey = (w: Warmup): string =>
  w.mode === 'none' ? 'none' : w.mode === 'seconds' ? `s${w.seconds}` : `f${w.fraction}`;

export class SessionQoeService {
  readonly #store: EventStore;
  readonly #limit: LimitFunction;
  readonly #inflight = new Map<string, Promise<unknown>>();
  /** QoE computed here, by session version and warm-up; insertion-ordered, oldest goes first. */
  readonly #computed = new Map<string, SessionQoe>();
  readonly #log: FastifyBaseLogger | undefined;

  constructor(store: EventStore, opts: { maxConcurrent?: number; log?: FastifyBaseLogger } = {}) {
    this.#store = store;
    this.#limit = pLimit(opts.maxConcurrent ?? 2);
    this.#log = opts.log;
  }

  /**
   * The session's QoE over its events minus the warm-up. Its video and protocol are the
   * summary's (one rule: src/sessions/summary.ts), as the sessions list shows them.
   */
  async qoe(experimentId: string, row: SessionRow, warmup: Warmup): Promise<SessionQoe> {
    const q = await this.#qoe(experimentId, row, warmup);
    return q.video_id === row.video_id && q.protocol === row.protocol && q.session_id === row.session_id
      ? q
      : { ...q, session_id: row.session_id, video_id: row.video_id, protocol: row.protocol };
  }

  async #qoe(experimentId: string, row: SessionRow, warmup: Warmup): Promise<SessionQoe> {
    const id = this.#id(experimentId, row, warmup);
    const hit = this.#cached(id, row, warmup);
    if (hit) return hit;
    // Cached inside the shared computation: concurrent requests wait for one save, not one each.
    return this.#shared(id, async () => {
      const qoe = await streamSessionQoe(
        () => this.#store.readEvents({ experimentId, ...sessionOf(row) }),
        row.session_id,
        { warmup },
        { first: row.first_timestamp, last: row.last_timestamp },
      );
      await this.#remember(experimentId, row, warmup, qoe);
      return qoe;
    });
  }

  /**
   * The QoE of several sessions of one experiment, in the rows' order. When the sessions to
   * compute hold at least half of the experiment's events, one read of the experiment folds
   * them all (stream.ts foldSessions) instead of a read per session; any it could not settle
   * are computed one by one.
   */
  async qoeMany(experimentId: string, rows: readonly SessionRow[], warmup: Warmup): Promise<SessionQoe[]> {
    const missing = rows.filter((row) => !this.#cached(this.#id(experimentId, row, warmup), row, warmup));
    const total = rows.reduce((n, r) => n + r.count, 0);
    const missingEvents = missing.reduce((n, r) => n + r.count, 0);
    if (missing.length >= 2 && 2 * missingEvents >= total) {
      const found = await this.#limit(() =>
        foldSessions(
          () => this.#store.readEvents({ experimentId }),
          missing.map((r) => ({
            sessionId: r.session_id,
            span: { first: r.first_timestamp, last: r.last_timestamp },
          })),
          { warmup },
        ),
      );
      await Promise.all(
        missing.map((row) => {
          const qoe = found.get(row.session_id);
          return qoe ? this.#remember(experimentId, row, warmup, qoe) : undefined;
        }),
      );
    }
    // Cached now, or computed on its own (shared, at most maxConcurrent at once).
    return Promise.all(rows.map((row) => this.qoe(experimentId, row, warmup)));
  }

  #id(experimentId: string, row: SessionRow, warmup: Warmup): string {
    return `qoe\u0000${experimentId}\u0000${row.session_id}\u0000${row.version}\u0000${warmupKey(warmup)}`;
  }

  /** A QoE already known for this version: the summary's (no warm-up), else one computed here. */
  #cached(id: string, row: SessionRow, warmup: Warmup): SessionQoe | undefined {
    return (warmup.mode === 'none' ? row.qoe : null) ?? this.#computed.get(id);
  }

  /**
   * Keeps a computed QoE: in memory, and for no warm-up also in the store's summary (rows read
   * before the save do not carry it; the memory copy serves them).
   */
  async #remember(experimentId: string, row: SessionRow, warmup: Warmup, qoe: SessionQoe): Promise<void> {
    this.#computed.set(this.#id(experimentId, row, warmup), qoe);
    if (this.#computed.size > COMPUTED_CACHE_SIZE) {
      this.#computed.delete(this.#computed.keys().next().value as string);
    }
    if (warmup.mode !== 'none') return;
    await this.#store.saveSessionQoe(experimentId, row.session_id, row.version, qoe).catch((err) => {
      logBackgroundError(this.#log, 'could not cache a session QoE', err, { experiment_id: experimentId });
    });
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
      streamTimeseries(() => this.#store.readEvents({ experimentId, ...sessionOf(row) }), metric, maxPoints, {
        first: row.first_timestamp,
        last: row.last_timestamp,
      }),
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
