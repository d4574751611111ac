/**
 * Session keys computed from the events themselves, for collections that do not carry them
 * (written by the Flask server, or by this server before sessions were stored) and for the
 * rebuild that stores them. Same rule as ingest (src/sessions/key.ts, runs.ts), applied to a
 * scan: a first pass collects the run starts of every split base, a second pass keys events.
 * Memory is O(events of split bases) numbers for the first pass, O(sessions) for summaries.
 */
import type { Document } from 'mongodb';
import { type BaseKey, baseSessionKey } from '../../sessions/key.ts';
import { keyAt, type RunPoint, runRoleOf, startsOfPoints } from '../../sessions/runs.ts';
import type { SessionRow } from '../types.ts';
import { eventsOf, experimentsOf, type Mongo } from './docs.ts';
import { deltaToRow, SummaryFold } from './sessions.ts';

/** Documents per page of a scan. */
const PAGE = 5000;

/** The fields the session rule reads. */
export const KEY_FIELDS = {
  timestamp: 1,
  event_type: 1,
  session_id: 1,
  video_id: 1,
  'payload.session_id': 1,
  'payload.type': 1,
  'payload.buffer_level': 1,
} as const;

/**
 * Every document of a collection (projected). `stable`: in _id pages, so documents updated
 * during the scan (the backfill) are seen once; otherwise one cursor (one query: a FerretDB
 * page query scans the collection each time).
 */
export async function* scan(
  m: Mongo,
  exp: string,
  projection: Document,
  stable = false,
): AsyncIterable<Document[]> {
  const col = eventsOf(m, exp);
  if (!stable) {
    const cursor = col.find({}, { projection }).batchSize(PAGE);
    try {
      let page: Document[] = [];
      for await (const d of cursor) {
        page.push(d);
        if (page.length >= PAGE) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    } finally {
      await cursor.close().catch(() => {});
    }
    return;
  }
  let after: Document['_id'];
  for (;;) {
    const page = await col
      .find(after === undefined ? {} : ({ _id: { $gt: after } } as Document), { projection })
      .sort({ _id: 1 })
      .limit(PAGE)
      .toArray();
    if (page.length > 0) yield page;
    if (page.length < PAGE) return;
    after = page[page.length - 1]?._id;
  }
}

/** Run starts of every split base of an experiment: keys events by the session rule. */
export class KeyPlan {
  readonly starts = new Map<string, number[]>();

  static async of(m: Mongo, exp: string): Promise<KeyPlan> {
    const points = new Map<string, RunPoint[]>();
    for await (const page of scan(m, exp, KEY_FIELDS)) {
      for (const d of page) {
        const bk = baseSessionKey(d);
        if (!bk.split) continue;
        let list = points.get(bk.base);
        if (!list) {
          list = [];
          points.set(bk.base, list);
        }
        list.push({ t: d.timestamp as number, role: runRoleOf(d as never) });
      }
    }
    const plan = new KeyPlan();
    for (const [base, list] of points) plan.starts.set(base, startsOfPoints(list, m.gapS));
    return plan;
  }

  /** The session key and base of a document (with the KEY_FIELDS). */
  keyOf(d: Document): { key: string; bk: BaseKey; starts: readonly number[] | undefined } {
    const bk = baseSessionKey(d);
    if (!bk.split) return { key: bk.base, bk, starts: undefined };
    const starts = this.starts.get(bk.base) ?? [];
    return { key: keyAt(bk.base, starts, d.timestamp as number), bk, starts };
  }
}

/** Sessions, event types and time span of an unkeyed collection, computed from a scan. */
export async function legacySummary(
  m: Mongo,
  exp: string,
): Promise<{
  sessions: SessionRow[];
  types: string[];
  count: number;
  first: number | null;
  last: number | null;
}> {
  const plan = await KeyPlan.of(m, exp);
  const fold = new SummaryFold();
  const types = new Set<string>();
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  for await (const page of scan(m, exp, { ...KEY_FIELDS, protocol: 1 })) {
    for (const d of page) {
      const { key, bk, starts } = plan.keyOf(d);
      fold.add(key, bk, starts, d as never);
      types.add(String(d.event_type));
      count++;
      const t = d.timestamp as number;
      if (first === null || t < first) first = t;
      if (last === null || t > last) last = t;
    }
  }
  return {
    sessions: [...fold.sessions.values()].map(deltaToRow),
    types: [...types].sort(),
    count,
    first,
    last,
  };
}

/**
 * Which collections carry session keys. A collection is keyed once its experiment has a
 * `stats_experiments` document without the `legacy` mark (this store writes it before its
 * first event), or when no document lacks `session_key`; "keyed" is cached for the process
 * (only a rebuild or this store writes keys, and neither takes them away).
 */
export class KeyedCollections {
  readonly #keyed = new Set<string>();

  async isKeyed(m: Mongo, exp: string): Promise<boolean> {
    if (this.#keyed.has(exp)) return true;
    const meta = await experimentsOf(m).findOne({ _id: exp as never }, { projection: { legacy: 1 } });
    let keyed = meta !== null && meta.legacy !== true;
    if (!keyed && meta === null) {
      const unkeyed = await eventsOf(m, exp).findOne(
        { session_key: { $exists: false } },
        { projection: { _id: 1 } },
      );
      keyed = unkeyed === null;
    }
    if (keyed) this.#keyed.add(exp);
    return keyed;
  }

  markKeyed(exp: string): void {
    this.#keyed.add(exp);
  }

  forget(exp: string): void {
    this.#keyed.delete(exp);
  }
}
