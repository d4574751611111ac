/**
 * Re-deriving stored session keys and summaries from the events (`stats-server
 * rebuild-summaries`, the backfill of collections written by the Flask server, and the repair
 * after a crash), and the open-time check that finds experiments needing the repair.
 *
 * MongoDB gives us no multi-document transaction here (FerretDB, standalone servers), so a
 * crash between the insert of events and the update of their summaries leaves the summaries
 * behind. Every write first leaves a "writing" note on the experiment and removes it with its
 * last update (write.ts), so an interrupted write is visible: at open (in the background) and
 * before the first read of an experiment, the store compares the document count of noted
 * experiments with the sum of their summary counts and rebuilds those that differ. Counting
 * only noted experiments keeps the check off the read path (a count scans the collection on
 * FerretDB).
 */
import type { Document } from 'mongodb';
import { COLLECTION_PREFIX, eventsOf, experimentsOf, type Mongo, sessionsOf, upsertRetried } from './docs.ts';
import { SUMMARY_SCHEMA } from './leases.ts';
import { KEY_FIELDS, KeyPlan, scan } from './legacy.ts';
import { countsByExperiment, kindOf, nowS, SummaryFold, summaryDoc } from './sessions.ts';

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
  // Documents whose key changes, grouped by their new (key, base): one updateMany per group of
  // ids (FerretDB scans the collection for every update, so per-document updates are slow).
  const moves = new Map<string, { key: string; base: string | null; ids: unknown[] }>();
  const col = eventsOf(m, exp);
  const flush = async (g: { key: string; base: string | null; ids: unknown[] }) => {
    if (g.ids.length === 0) return;
    const update: Document =
      g.base === null
        ? { $set: { session_key: g.key }, $unset: { session_base: '' } }
        : { $set: { session_key: g.key, session_base: g.base } };
    await col.updateMany({ _id: { $in: g.ids } } as Document, update);
    g.ids = [];
  };
  const projection = { ...KEY_FIELDS, protocol: 1, session_key: 1, session_base: 1 };
  for await (const page of scan(m, exp, projection, true)) {
    for (const d of page) {
      const { key, bk, starts } = plan.keyOf(d);
      const base = bk.split ? bk.base : null;
      if (d.session_key !== key || (d.session_base ?? null) !== base) {
        const id = `${key}\u0000${base ?? ''}\u0000${base === null ? 0 : 1}`;
        let g = moves.get(id);
        if (!g) {
          g = { key, base, ids: [] };
          moves.set(id, g);
        }
        g.ids.push(d._id);
        if (g.ids.length >= BULK) await flush(g);
      }
      fold.add(key, bk, starts, d as never);
      types.add(String(d.event_type));
      const t = d.timestamp as number;
      if (first === null || t < first) first = t;
      if (last === null || t > last) last = t;
      events++;
    }
  }
  for (const g of moves.values()) await flush(g);

  const changedAt = nowS();
  const rows = [...fold.sessions.values()];
  for (let i = 0; i < rows.length; i += BULK) {
    await sessionsOf(m).bulkWrite(
      rows.slice(i, i + BULK).map((x) => ({
        replaceOne: {
          filter: { experiment_id: exp, session_key: x.key, kind: kindOf(x) },
          replacement: summaryDoc(exp, x, changedAt),
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }
  // Rows this rebuild did not write (each write above took a new version).
  const kept = await sessionsOf(m)
    .find({ experiment_id: exp }, { projection: { _id: 1, session_key: 1, kind: 1 } })
    .toArray();
  const made = new Set(rows.map((x) => `${kindOf(x)}\u0000${x.key}`));
  const stale = kept.filter((d) => !made.has(`${d.kind ?? 0}\u0000${d.session_key}`)).map((d) => d._id);
  if (stale.length > 0) await sessionsOf(m).deleteMany({ _id: { $in: stale } });
  // An update, not a replace: "writing" notes of other processes stay (see write.ts).
  const set: Document = { event_types: [...types].sort(), schema: SUMMARY_SCHEMA };
  const unset: Document = { legacy: '' };
  if (first !== null) set.first_ts = first;
  else unset.first_ts = '';
  if (last !== null) set.last_ts = last;
  else unset.last_ts = '';
  await upsertRetried(() =>
    experimentsOf(m).updateOne({ _id: exp as never }, { $set: set, $unset: unset }, { upsert: true }),
  );
  return { sessions: rows.length, events };
}

/**
 * Repairs an experiment after an interrupted write: when its document carries "writing" notes
 * (write.ts) and its document count differs from the sum of its summary counts, it is
 * rebuilt; the notes seen are then removed (each only if unchanged, so a note another process
 * has renewed since stays). Must run under the experiment's lock: a write of this process in
 * progress would look interrupted. Resolves true when it rebuilt.
 */
export async function repairIfInterrupted(m: Mongo, exp: string, token: string): Promise<boolean> {
  const meta = await experimentsOf(m).findOne(
    { _id: exp as never },
    { projection: { legacy: 1, writing: 1, schema: 1 } },
  );
  if (!meta || meta.legacy === true) return false;
  // Summaries of an older layout (runs split at stream_initialized itself): made anew, once.
  if (meta.schema !== SUMMARY_SCHEMA) {
    await rebuildExperiment(m, exp);
    return true;
  }
  // Notes of live writers of other processes are not interruptions.
  const now = Date.now();
  const notes = Object.entries((meta.writing ?? {}) as Record<string, unknown>).filter(
    ([who, until]) => who === token || typeof until !== 'number' || until < now,
  );
  if (notes.length === 0) return false;
  const rebuilt = await differs(m, exp);
  if (rebuilt) await rebuildExperiment(m, exp);
  for (const [who, at] of notes) {
    if (who === token) continue;
    await experimentsOf(m).updateOne(
      { _id: exp as never, [`writing.${who}`]: at },
      { $unset: { [`writing.${who}`]: '' } },
    );
  }
  return rebuilt;
}

/** Experiments with "writing" notes: candidates for repairIfInterrupted (one query). */
export async function interruptedExperiments(m: Mongo): Promise<string[]> {
  const metas = await experimentsOf(m)
    .find({}, { projection: { _id: 1, writing: 1, schema: 1, legacy: 1 } })
    .toArray();
  return metas
    .filter(
      (d) => Object.keys(d.writing ?? {}).length > 0 || (d.legacy !== true && d.schema !== SUMMARY_SCHEMA),
    )
    .map((d) => String(d._id));
}

/** True when the experiment's document count is not the sum of its summary counts. */
export async function differs(m: Mongo, exp: string): Promise<boolean> {
  const sum = (await countsByExperiment(m, { experiment_id: exp })).get(exp)?.count ?? 0;
  return (await eventsOf(m, exp).countDocuments({})) !== sum;
}
