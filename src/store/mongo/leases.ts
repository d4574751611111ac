/**
 * The "writing" notes of the MongoDB store, held as leases: before a process stores events of
 * an experiment, its note on the experiment's `stats_experiments` document says until when it
 * may be writing. A note is renewed only when half of it has run out, not per group, and
 * removed once the process has been idle for a lease or closes; a note that expired means a
 * write may have stopped between its events and their summaries, which the repair checks
 * (rebuild.ts). The experiment's event types are added here too, only when new ones appear.
 */
import type { Document } from 'mongodb';
import { eventsOf, experimentsOf, type Mongo, upsertRetried } from './docs.ts';

/** How long a note holds. */
export const LEASE_MS = 30_000;

/** The layout version of an experiment's summaries (rebuild.ts rebuilds older ones once). */
export const SUMMARY_SCHEMA = 3;

export class WriteLeases {
  readonly #token: string;
  /** Until when this process's note on each experiment holds. */
  readonly #until = new Map<string, number>();
  readonly #idle = new Map<string, NodeJS.Timeout>();
  /** Event types known to be recorded per experiment. */
  readonly #types = new Map<string, Set<string>>();

  constructor(token: string) {
    this.#token = token;
  }

  /** Makes sure this process's note covers a write starting now (one round trip when it must). */
  async hold(m: Mongo, exp: string): Promise<void> {
    const now = Date.now();
    this.#armIdle(m, exp);
    if ((this.#until.get(exp) ?? 0) - now > LEASE_MS / 2) return;
    const until = now + LEASE_MS;
    const r = await upsertRetried(() =>
      experimentsOf(m).updateOne(
        { _id: exp as never },
        {
          $set: { [`writing.${this.#token}`]: until },
          $setOnInsert: { event_types: [], schema: SUMMARY_SCHEMA },
        },
        { upsert: true },
      ),
    );
    this.#until.set(exp, until);
    if (r.upsertedCount === 0) return;
    // A new document for a collection the Flask server wrote: read from scans until rebuilt.
    const unkeyed = await eventsOf(m, exp).findOne(
      { session_key: { $exists: false } },
      { projection: { _id: 1 } },
    );
    if (unkeyed) await experimentsOf(m).updateOne({ _id: exp as never }, { $set: { legacy: true } });
  }

  /** Adds event types the experiment's document does not list yet (as far as this process knows). */
  async noteTypes(m: Mongo, exp: string, types: ReadonlySet<string>): Promise<void> {
    let known = this.#types.get(exp);
    if (!known) {
      known = new Set();
      this.#types.set(exp, known);
    }
    const fresh = [...types].filter((t) => !known.has(t));
    if (fresh.length === 0) return;
    await experimentsOf(m).updateOne({ _id: exp as never }, { $addToSet: { event_types: { $each: fresh } } });
    for (const t of fresh) known.add(t);
  }

  /** Removes the note once the experiment has been idle for a lease. */
  #armIdle(m: Mongo, exp: string): void {
    clearTimeout(this.#idle.get(exp));
    const timer = setTimeout(() => {
      this.#idle.delete(exp);
      void this.#drop(m, exp).catch(() => {});
    }, LEASE_MS);
    timer.unref();
    this.#idle.set(exp, timer);
  }

  async #drop(m: Mongo, exp: string): Promise<void> {
    const until = this.#until.get(exp);
    this.#until.delete(exp);
    if (until === undefined) return;
    const note = `writing.${this.#token}`;
    await experimentsOf(m).updateOne({ _id: exp as never, [note]: until } as Document, {
      $unset: { [note]: '' },
    });
  }

  /** Forgets an experiment (deleted): its note goes with its document's reset. */
  forget(exp: string): void {
    clearTimeout(this.#idle.get(exp));
    this.#idle.delete(exp);
    this.#until.delete(exp);
    this.#types.delete(exp);
  }

  /** Removes every note of this process (a clean shutdown leaves nothing to repair). */
  async release(m: Mongo): Promise<void> {
    for (const t of this.#idle.values()) clearTimeout(t);
    this.#idle.clear();
    await Promise.all([...this.#until.keys()].map((exp) => this.#drop(m, exp)));
  }
}
