/**
 * Cheap change detection for live views. Listing experiments scans every event (hundreds of
 * ms on a few hundred thousand), so views of one experiment do not poll it: they ask for the
 * events at or after the newest timestamp seen (an index range read of a few rows) and reload
 * only when that page changed. Events that arrive with older timestamps are picked up on the
 * next change or reload.
 */
import { api, type MetricsReply } from './api.ts';

const PROBE_LIMIT = 1000;

const sig = (p: MetricsReply) => `${p.count}:${p.metrics.at(-1)?._id ?? ''}:${p.next_cursor ? '+' : ''}`;

export class ChangeProbe {
  private since: number | undefined;
  private last = '';

  /** sessionId narrows the probe to one session's events. */
  constructor(
    private readonly experimentId: string,
    private readonly sessionId?: string,
  ) {}

  private page(): Promise<MetricsReply> {
    return api.metrics(this.experimentId, {
      start_time: this.since,
      session_id: this.sessionId,
      limit: PROBE_LIMIT,
    });
  }

  /** The newest event timestamp seen (for the live badge). */
  get newest(): number | undefined {
    return this.since;
  }

  /** Starts from a known newest timestamp (from the experiments list) instead of the first event. */
  async start(newest: number | null | undefined): Promise<void> {
    this.since = newest ?? undefined;
    this.last = sig(await this.page());
  }

  /** True when events arrived since the previous call. */
  async changed(): Promise<boolean> {
    const page = await this.page();
    const s = sig(page);
    if (s === this.last) return false;
    if (page.next_cursor) {
      // More than a page arrived: jump to the newest timestamp instead of walking forward.
      const all = await api.experiments();
      this.since = all.find((e) => e.experiment_id === this.experimentId)?.last_timestamp ?? this.since;
    } else {
      this.since = page.metrics.at(-1)?.timestamp ?? this.since;
    }
    this.last = sig(await this.page());
    return true;
  }
}
