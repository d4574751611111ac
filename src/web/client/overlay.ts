/**
 * Several sessions' time series on the same axes: x is seconds since each session's own
 * start, one colour per session (the legend names them), one chart per metric.
 */
import type uPlot from 'uplot';
import { api, type TimeseriesReply } from './api.ts';
import { Chart, PALETTE } from './charts.ts';
import { fill, h } from './dom.ts';
import { pool } from './pool.ts';
import { effectiveRate } from './rate.ts';
import { displayUnit, SERIES } from './series.ts';

/** More lines than colours would repeat colours: the picker stops here. */
export const MAX_OVERLAY = PALETTE.length;

/** Columns aligned on the union of the sessions' x values (null where a session has no point). */
export function alignSeries(perSession: Array<Array<[number, number | null]>>): Array<Array<number | null>> {
  const xs = [...new Set(perSession.flatMap((pts) => pts.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = perSession.map((pts) => {
    const col: Array<number | null> = new Array(xs.length).fill(null);
    for (const [x, y] of pts) col[index.get(x) as number] = y;
    return col;
  });
  return [xs, ...cols];
}

export class Overlay {
  readonly el = h('section', { class: 'overlay', id: 'overlay', hidden: true });
  private readonly chartsEl = h('div', { class: 'grid2 overlay-charts' });
  private readonly info = h('p', { class: 'muted small' });
  private charts: Chart[] = [];

  constructor(private readonly experimentId: string) {
    const close = h('button', { type: 'button', class: 'close-overlay' }, 'Close overlay');
    close.addEventListener('click', () => this.clear());
    fill(
      this.el,
      h('h2', {}, 'Overlay of selected sessions'),
      h('div', { class: 'toolbar' }, this.info, close),
      this.chartsEl,
    );
  }

  /**
   * Draws the sessions (ids exactly as the API gave them), each from its own start time and
   * named by its label (run number and start); `stalls` (Unix seconds) make the rate 0.
   */
  async show(
    sessions: Array<{ id: string; start: number; label: string; stalls: Array<[number, number]> }>,
  ): Promise<void> {
    this.clear();
    this.el.hidden = false;
    this.info.textContent = `${sessions.length} sessions; x = seconds since each session's first event; runs numbered by first event (hover a run in the table for its session id). Drag to zoom, double-click to reset.`;
    const replies = new Map<string, TimeseriesReply>();
    const jobs = SERIES.flatMap((d) => sessions.map((s) => ({ d, s })));
    await pool(jobs, 4, async ({ d, s }) => {
      replies.set(`${d.metric}\u0000${s.id}`, await api.timeseries(this.experimentId, s.id, d.metric));
    });
    const onZoom = (range: [number, number] | null) => {
      for (const c of this.charts) c.setX(range ?? full);
    };
    // One x range for every chart: 0 to the end of the longest session.
    let end = 1;
    for (const s of sessions)
      for (const d of SERIES) {
        const last = replies.get(`${d.metric}\u0000${s.id}`)?.points.at(-1)?.[0];
        if (last !== undefined) end = Math.max(end, last - s.start);
      }
    const full: [number, number] = [0, end];
    for (const d of SERIES) {
      const { label, scale } = displayUnit(replies.get(`${d.metric}\u0000${sessions[0]?.id}`)?.unit ?? '');
      const chart = new Chart(this.chartsEl, {
        title: `${d.title}${d.metric === 'playback_rate' ? ', effective' : ''} (${label})`,
        xLabel: 'seconds since session start',
        yLabel: label,
        kind: 'time',
        rungs: d.rungs,
        yMinTop: d.yMinTop,
        syncKey: `overlay-${this.experimentId}`,
        onZoom,
      });
      chart.box.dataset.metric = d.metric;
      this.charts.push(chart);
      const per = sessions.map((s) => {
        const rel = (t: number) => Number((t - s.start).toFixed(3));
        const pts = (replies.get(`${d.metric}\u0000${s.id}`)?.points ?? []).map(
          ([t, v]) => [rel(t), v == null ? null : v * scale] as [number, number | null],
        );
        // The effective rate, as on the session view: 0 while the session stalls.
        return d.metric === 'playback_rate'
          ? effectiveRate(
              pts,
              s.stalls.map(([a, b]) => [rel(a), rel(b)]),
            )
          : pts;
      });
      const data = alignSeries(per);
      chart.set(
        sessions.map((s, i) => ({
          label: s.label,
          color: PALETTE[i % PALETTE.length] ?? '#000',
          stepped: d.stepped,
        })),
        data as uPlot.AlignedData,
        full,
        'none of these sessions reports it',
      );
    }
  }

  clear(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.el.hidden = true;
  }
}
