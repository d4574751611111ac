/**
 * Cheap change detection for live views: the session summaries (event count and newest
 * timestamp per session) change with every stored event, and reading them costs a number of
 * sessions, not of events, on both stores. An earlier probe asked for the events after the
 * newest timestamp seen: an index range read on SQLite, but a scan of the whole collection on
 * a MongoDB server without index use (FerretDB: 6 s before an experiment view could draw).
 */
import { api, type SessionSummary } from './api.ts';

export class ChangeProbe {
  private newestSeen: number | undefined;
  private last = '';

  /** sessionId narrows the probe to one session. */
  constructor(
    private readonly experimentId: string,
    private readonly sessionId?: string,
  ) {}

  private async signature(): Promise<string> {
    let rows: SessionSummary[];
    try {
      rows = await api.sessions(this.experimentId);
    } catch {
      // An experiment deleted (404) or not there yet: nothing to compare.
      return 'none';
    }
    if (this.sessionId !== undefined) rows = rows.filter((r) => r.session_id === this.sessionId);
    let count = 0;
    let newest = Number.NEGATIVE_INFINITY;
    for (const r of rows) {
      count += r.count;
      newest = Math.max(newest, r.last_timestamp);
    }
    if (rows.length > 0) this.newestSeen = newest;
    return `${rows.length}:${count}:${newest}`;
  }

  /** The newest event timestamp seen (for the live badge). */
  get newest(): number | undefined {
    return this.newestSeen;
  }

  /** Notes the current state (`newest`, from the experiments list, shows until then). */
  async start(newest?: number | null): Promise<void> {
    this.newestSeen = newest ?? undefined;
    this.last = await this.signature();
  }

  /** True when events arrived (or were removed) since the previous call. */
  async changed(): Promise<boolean> {
    const s = await this.signature();
    if (s === this.last) return false;
    this.last = s;
    return true;
  }
}
