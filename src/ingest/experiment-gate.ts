/**
 * Limits how fast and how far the number of experiments grows. On MongoDB every experiment is a
 * collection with indexes (files, memory, and a longer experiments list), so one request naming
 * a thousand new experiment ids must not create a thousand collections: a cap on how many the
 * store may hold (MAX_EXPERIMENTS) and on how many this process starts per minute
 * (NEW_EXPERIMENTS_PER_MINUTE). Off by default on the embedded store, where an experiment is
 * only a value in a column. Experiments already stored are never limited.
 */
import { type ApiError, apiError } from '../errors.ts';
import type { EventStore } from '../store/types.ts';

/** How stale the list of stored experiments may be before a new id makes us read it again. */
const REFRESH_MS = 5000;
const WINDOW_MS = 60_000;

export class ExperimentGate {
  readonly #store: EventStore;
  readonly #max: number;
  readonly #perMinute: number;
  #known = new Set<string>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  /** The experiments this process started, and when (the rate's window). */
  #started = new Map<string, number>();

  constructor(store: EventStore, opts: { maxExperiments: number; newExperimentsPerMinute: number }) {
    this.#store = store;
    this.#max = opts.maxExperiments;
    this.#perMinute = opts.newExperimentsPerMinute;
  }

  /** The experiments among `ids` that may not be started now, each with the error to answer. */
  async refused(ids: Iterable<string>): Promise<Map<string, ApiError>> {
    const out = new Map<string, ApiError>();
    if (this.#max === 0 && this.#perMinute === 0) return out;
    const unknown = () => [...new Set(ids)].filter((id) => !this.#known.has(id));
    if (unknown().length === 0) return out;
    // Another instance may have started them, or a delete made room: read the list again, once
    // for all concurrent requests.
    if (Date.now() - this.#loadedAt > REFRESH_MS) {
      this.#loading ??= this.#refresh().finally(() => {
        this.#loading = undefined;
      });
    }
    await this.#loading;
    const now = Date.now();
    for (const [id, t] of this.#started) if (now - t >= WINDOW_MS) this.#started.delete(id);
    // Decided after the wait: concurrent requests for one new experiment count it once.
    for (const id of unknown()) {
      if (this.#max > 0 && this.#known.size >= this.#max) {
        out.set(
          id,
          apiError(
            'EXPERIMENT_LIMIT',
            `No room for experiment "${id}": this server holds ${this.#known.size} experiments, the most it accepts (MAX_EXPERIMENTS)`,
          ),
        );
      } else if (this.#perMinute > 0 && this.#started.size >= this.#perMinute) {
        const oldest = Math.min(...this.#started.values());
        const wait = Math.max(1, Math.ceil((WINDOW_MS - (now - oldest)) / 1000));
        out.set(
          id,
          apiError(
            'NEW_EXPERIMENT_RATE',
            `Experiment "${id}" would be the ${this.#perMinute + 1}th new one this minute (NEW_EXPERIMENTS_PER_MINUTE); retry in ${wait} s`,
            { retryAfter: wait },
          ),
        );
      } else {
        this.#known.add(id);
        this.#started.set(id, now);
      }
    }
    return out;
  }

  async #refresh(): Promise<void> {
    const stored = await this.#store.listExperiments();
    // What the store holds, plus what this process started (its events may still be queued).
    this.#known = new Set([...stored.map((e) => e.experiment_id), ...this.#started.keys()]);
    this.#loadedAt = Date.now();
  }
}
