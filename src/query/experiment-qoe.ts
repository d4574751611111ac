/**
 * An experiment's QoE table: every session's QoE (from its cached summary when current) with
 * its run number and start, plus the aggregate. What the QoE route and `stats-server qoe`
 * both serve, so the two cannot differ.
 */
import { aggregate } from '../qoe/aggregate.ts';
import type { AggregatedMetric, Summary, Warmup } from '../qoe/types.ts';
import type { SessionQoeService } from '../session-qoe/service.ts';
import type { EventStore } from '../store/types.ts';
import { type QoeTableRow, runNumbers } from './qoe-table.ts';

export interface ExperimentQoe {
  experiment_id: string;
  warmup: Warmup;
  sessions: QoeTableRow[];
  aggregate: Record<AggregatedMetric, Summary>;
}

/** Why there is no table: no such experiment, or no such session in it. */
export class QoeNotFound extends Error {
  constructor(
    readonly what: 'experiment' | 'session',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The QoE of an experiment's sessions (or of one of them), in the store's session order; the
 * aggregate is over the sessions returned.
 */
export async function experimentQoe(
  store: EventStore,
  service: SessionQoeService,
  experimentId: string,
  warmup: Warmup,
  session?: string,
): Promise<ExperimentQoe> {
  const all = await store.listSessions(experimentId);
  let rows = all;
  if (session !== undefined) {
    // Numbered among all runs; the list is a summary read, cheap next to a QoE computation.
    const row = all.find((r) => r.session_id === session) ?? (await store.getSession(experimentId, session));
    if (!row) throw new QoeNotFound('session', `No session "${session}" in "${experimentId}"`);
    rows = [row];
  } else if (all.length === 0) {
    throw new QoeNotFound('experiment', `No experiment "${experimentId}"`);
  }
  const runs = runNumbers(all.length ? all : rows);
  const list = await service.qoeMany(experimentId, rows, warmup);
  const sessions = list.map((q, i) => ({
    ...q,
    run: runs.get(q.session_id) ?? i + 1,
    started_unix_s: rows[i]?.first_timestamp ?? 0,
  }));
  return { experiment_id: experimentId, warmup, sessions, aggregate: aggregate(list) };
}
