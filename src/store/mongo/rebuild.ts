/**
 * Re-deriving stored session keys and summaries from the events (`stats-server
 * rebuild-summaries`, the backfill of collections written by the Flask server, and the repair
 * after a crash), and the open-time check that finds experiments needing the repair.
 *
 * MongoDB gives us no multi-document transaction here (FerretDB, standalone servers), so a
 * crash between the insert of events and the update of their summaries leaves the summaries
 * behind. Every write stores the events first (write.ts), so such an experiment has more
 * documents than the sum of its summary counts: at open, in the background, the store compares
 * the two for every experiment it manages and rebuilds those that differ.
 */
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { COLLECTION_PREFIX, eventsOf, experimentsOf, type Mongo, sessionsOf } from './docs.ts';
import { KEY_FIELDS, KeyPlan, scan } from './legacy.ts';
import { countsByExperiment, nowS, SummaryFold, summaryDoc } from './sessions.ts';

/** Document updates per bulk write of a backfill. */
const BULK = 1000;

/** Experiments with a collection (`metrics-*`), sorted. */
export async function collectionExperiments(m: Mongo): Promise<string[]> {
  const cols = await m.db.listCollections({}, { nameOnly: true }).toArray();
  return cols
    .map((c) => c.name)
    .filter((n) => n.startsWith(COLLECTION_PREFIX))
    .map((n) => n.slice(COLLECTION_PREFIX.length))
    .sort();
}

/**
 * Stores on every document of the experiment the session key the rule gives (only where it
 * is missing or different) and rewrites its summaries and event types from the events.
 */
export async function rebuildExperiment(
  m: Mongo,
  exp: string,
): Promise<{ sessions: number; events: number }> {
  const plan = await KeyPlan.of(m, exp);
  const fold = new SummaryFold();
  const types = new Set<string>();
  let first: number | null = null;
  let last: number | null = null;
  let events = 0;
  let ops: AnyBulkWriteOperation<Document>[] = [];
  const col = eventsOf(m, exp);
  const projection = { ...KEY_FIELDS, protocol: 1, session_key: 1, session_base: 1 };
  for await (const page of scan(m, exp, projection)) {
    for (const d of page) {
      const { key, bk, starts } = plan.keyOf(d);
      const base = bk.split ? bk.base : null;
      if (d.session_key !== key || (d.session_base ?? null) !== base) {
        const update: Document =
          base === null
            ? { $set: { session_key: key }, $unset: { session_base: '' } }
            : { $set: { session_key: key, session_base: base } };
        ops.push({ updateOne: { filter: { _id: d._id }, update } });
      }
      fold.add(key, bk, starts, d as never);
      types.add(String(d.event_type));
      const t = d.timestamp as number;
      if (first === null || t < first) first = t;
      if (last === null || t > last) last = t;
      events++;
    }
    if (ops.length >= BULK) {
      await col.bulkWrite(ops, { ordered: false });
      ops = [];
    }
  }
  if (ops.length > 0) await col.bulkWrite(ops, { ordered: false });

  const changedAt = nowS();
  const rows = [...fold.sessions.values()];
  for (let i = 0; i < rows.length; i += BULK) {
    await sessionsOf(m).bulkWrite(
      rows.slice(i, i + BULK).map((x) => ({
        replaceOne: {
          filter: { experiment_id: exp, session_key: x.key },
          replacement: summaryDoc(exp, x, changedAt),
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }
  await sessionsOf(m).deleteMany({ experiment_id: exp, session_key: { $nin: rows.map((x) => x.key) } });
  const meta: Document = { event_types: [...types].sort() };
  if (first !== null) meta.first_ts = first;
  if (last !== null) meta.last_ts = last;
  await experimentsOf(m).replaceOne({ _id: exp as never }, meta, { upsert: true });
  return { sessions: rows.length, events };
}

/**
 * Experiments this store manages (a `stats_experiments` document without the `legacy` mark)
 * whose document count differs from the sum of their summary counts.
 */
export async function experimentsBehind(m: Mongo): Promise<string[]> {
  const managed = await experimentsOf(m)
    .find({ legacy: { $ne: true } }, { projection: { _id: 1 } })
    .toArray();
  const sums = await countsByExperiment(m);
  const behind: string[] = [];
  for (const d of managed) {
    const exp = String(d._id);
    if (await differs(m, exp, sums.get(exp)?.count ?? 0)) behind.push(exp);
  }
  return behind;
}

/** True when the experiment's document count is not the sum of its summary counts. */
export async function differs(m: Mongo, exp: string, summed?: number): Promise<boolean> {
  const sum = summed ?? (await countsByExperiment(m, { experiment_id: exp })).get(exp)?.count ?? 0;
  return (await eventsOf(m, exp).countDocuments({})) !== sum;
}
