/**
 * The read side of the MongoDB store. Kept to what both MongoDB 5+ and FerretDB 1.24 (the
 * test server) support: find with sort/limit, countDocuments, and $group with one $sum.
 *
 * Lists read the summaries (`stats_sessions`, `stats_experiments`): cost in sessions, not
 * events. Collections without stored session keys (written by the Flask server, not yet
 * backfilled) are read correctly but slowly: their keys are computed from a scan (legacy.ts).
 *
 * Insertion order is `_id`: ObjectIds are made just before the insert, so an event
 * acknowledged before readMark() ran has an _id at or below the mark.
 */
import { type Document, ObjectId } from 'mongodb';
import type { StoredEvent } from '../../events/schema.ts';
import { compareSessions } from '../../sessions/key.ts';
import type { ExperimentSummary, ReadQuery, SessionRow } from '../types.ts';
import { docToEvent, eventsOf, experimentsOf, idOf, type Mongo } from './docs.ts';
import { type KeyPlan, legacySummary } from './legacy.ts';
import { collectionExperiments } from './rebuild.ts';
import { listSessionRows, spansByExperiment } from './sessions.ts';

/** Documents per yielded batch and per cursor round trip. */
export const READ_BATCH = 1000;

export async function readMark(m: Mongo, experimentId: string): Promise<string | null> {
  const [doc] = await eventsOf(m, experimentId)
    .find({}, { projection: { _id: 1 } })
    .sort({ _id: -1 })
    .limit(1)
    .toArray();
  return doc?._id instanceof ObjectId ? doc._id.toHexString() : null;
}

/**
 * Events in (timestamp, _id) order. `plan`: the collection has no stored keys, they are
 * computed (and a session filter applied) here.
 */
export async function* readEvents(m: Mongo, q: ReadQuery, plan?: KeyPlan): AsyncIterable<StoredEvent[]> {
  const and: Document[] = [];
  if (q.eventType !== undefined) and.push({ event_type: q.eventType });
  if (q.startTime !== undefined) and.push({ timestamp: { $gte: q.startTime } });
  if (q.endTime !== undefined) and.push({ timestamp: { $lte: q.endTime } });
  if (q.session !== undefined && !plan) {
    // Every event stored under that id; or, when asked, only the run's or only the explicit
    // session's (a run and an explicit session may share an id: write.ts).
    and.push({ session_key: q.session });
    if (q.sessionRun !== undefined) and.push({ session_base: { $exists: q.sessionRun } });
  }
  if (q.mark !== undefined) and.push({ _id: { $lte: idOf(q.mark) } });
  if (q.after) {
    and.push({
      $or: [
        { timestamp: { $gt: q.after.timestamp } },
        { timestamp: q.after.timestamp, _id: { $gt: idOf(q.after.id) } },
      ],
    });
  }
  const filter = and.length === 0 ? {} : and.length === 1 ? (and[0] as Document) : { $and: and };
  let cursor = eventsOf(m, q.experimentId).find(filter).sort({ timestamp: 1, _id: 1 }).batchSize(READ_BATCH);
  const filtered = plan !== undefined && q.session !== undefined;
  if (q.limit !== undefined && !filtered) cursor = cursor.limit(q.limit);
  let remaining = q.limit ?? Number.POSITIVE_INFINITY;
  try {
    let batch: StoredEvent[] = [];
    for await (const doc of cursor) {
      if (plan) {
        const { key } = plan.keyOf(doc);
        if (q.session !== undefined && key !== q.session) continue;
        batch.push(docToEvent(doc, key));
      } else batch.push(docToEvent(doc));
      if (--remaining <= 0) break;
      if (batch.length >= READ_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await cursor.close().catch(() => {});
  }
}

/**
 * Every experiment: managed ones from the summaries (three queries in all, whatever their
 * number), collections without stored keys from a scan each.
 */
export async function listExperiments(m: Mongo): Promise<ExperimentSummary[]> {
  const [names, metas, counts] = await Promise.all([
    collectionExperiments(m),
    experimentsOf(m)
      .find({}, { projection: { writing: 0 } })
      .toArray(),
    spansByExperiment(m),
  ]);
  const byId = new Map(metas.map((d) => [String(d._id), d]));
  const out: ExperimentSummary[] = [];
  for (const id of names) {
    const meta = byId.get(id);
    if (meta && meta.legacy !== true) {
      const c = counts.get(id);
      if (!c || c.count === 0) continue; // emptied by a delete (the collection keeps its indexes)
      out.push({
        experiment_id: id,
        count: c.count,
        first_timestamp: Number.isFinite(c.first) ? c.first : null,
        last_timestamp: Number.isFinite(c.last) ? c.last : null,
        event_types: ((meta.event_types ?? []) as unknown[]).map(String).sort(),
        sessions: c.sessions,
      });
      continue;
    }
    const s = await legacySummary(m, id);
    if (s.count === 0) continue;
    out.push({
      experiment_id: id,
      count: s.count,
      first_timestamp: s.first,
      last_timestamp: s.last,
      event_types: s.types,
      sessions: s.sessions.length,
    });
  }
  return out;
}

/** Sessions of an experiment: from its summaries, or from a scan when it has no stored keys. */
export async function listSessions(m: Mongo, exp: string, keyed: boolean): Promise<SessionRow[]> {
  if (keyed) return listSessionRows(m, exp);
  return (await legacySummary(m, exp)).sessions.sort(compareSessions);
}
