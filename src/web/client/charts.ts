/**
 * uPlot charts: CDFs (one line per experiment, on shared axes) and session time series (one
 * chart per metric, stacked on one synced time axis, stalls shaded and switches marked).
 */
import uPlot from 'uplot';
import { h } from './dom.ts';

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];
export const STALL_FILL = 'rgba(214, 39, 40, 0.16)';
export const SWITCH_STROKE = 'rgba(120, 60, 160, 0.85)';
export const WARMUP_FILL = 'rgba(120, 120, 120, 0.14)';

const AXIS = { stroke: '#444', grid: { stroke: '#e6e6e6', width: 1 }, ticks: { stroke: '#ccc', width: 1 } };

/** A uPlot chart inside a labelled box that follows its box's width and can be fed new data. */
export class Chart {
  readonly box: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly note: HTMLElement;
  private plot: uPlot | undefined;
  private labels = '';
  private readonly resize: ResizeObserver;

  constructor(
    parent: HTMLElement,
    readonly title: string,
    private readonly makeOpts: (width: number, labels: string[]) => uPlot.Options,
    private readonly height = 220,
  ) {
    this.plotEl = h('div', { class: 'plot' });
    this.note = h('p', { class: 'muted chart-note', hidden: true });
    this.box = h(
      'figure',
      { class: 'chart', 'data-title': title },
      h('figcaption', {}, title),
      this.plotEl,
      this.note,
    );
    parent.append(this.box);
    this.resize = new ResizeObserver(() => {
      const w = this.width();
      if (this.plot && Math.abs(this.plot.width - w) > 2)
        this.plot.setSize({ width: w, height: this.height });
    });
    this.resize.observe(this.box);
  }

  private width(): number {
    return Math.max(260, Math.floor(this.box.clientWidth) - 4);
  }

  /**
   * Draws data (x first, then one array per label); rebuilds only when the series change.
   * xRange pins the x axis (stacked charts share one); otherwise it follows the data.
   */
  set(
    labels: string[],
    data: uPlot.AlignedData,
    xRange?: [number, number],
    emptyNote = 'No data yet.',
  ): void {
    const points = data[0]?.length ?? 0;
    this.box.dataset.series = labels.join('|');
    this.box.dataset.points = String(points);
    this.note.hidden = points > 0;
    this.note.textContent = emptyNote;
    const key = labels.join('\u0000');
    if (this.plot && key === this.labels) {
      this.plot.setData(data, !xRange);
    } else {
      this.plot?.destroy();
      this.labels = key;
      this.plot = new uPlot(
        { ...this.makeOpts(this.width(), labels), height: this.height },
        data,
        this.plotEl,
      );
    }
    if (xRange) this.setX(xRange);
  }

  setX([min, max]: [number, number]): void {
    if (!this.plot || !(max > min)) return;
    this.plot.setScale('x', { min, max });
    this.box.dataset.x = `${min.toFixed(2)},${max.toFixed(2)}`;
  }

  /** Redraws without new data (after annotations changed). */
  redraw(): void {
    this.plot?.redraw(false, false);
  }

  get uplot(): uPlot | undefined {
    return this.plot;
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
    this.box.remove();
  }
}

// ---- CDFs ----

/** A CDF chart: x = metric value (in display units), y = fraction of sessions at or below. */
export function cdfChart(parent: HTMLElement, title: string, xLabel: string): Chart {
  return new Chart(parent, title, (width, labels) => ({
    width,
    height: 220,
    scales: { x: { time: false }, y: { range: [0, 1] } },
    legend: { live: false },
    cursor: { drag: { x: true, y: false } },
    axes: [
      { ...AXIS, label: xLabel, labelSize: 18, size: 34 },
      { ...AXIS, label: 'fraction of sessions', labelSize: 18, size: 44 },
    ],
    series: [
      { label: xLabel },
      ...labels.map((label, i) => ({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        paths: uPlot.paths.stepped?.({ align: 1 }),
        points: { show: false },
      })),
    ],
  }));
}

// ---- Session time series ----

export interface Annotations {
  /** Stalls as [start, end] in chart x units (seconds since session start). */
  stalls: Array<[number, number]>;
  /** Rendition switches in chart x units. */
  switches: number[];
  /** The warm-up trimmed by the QoE endpoint, [0, end], or null. */
  warmup: [number, number] | null;
}

/** Shades stalls (and the trimmed warm-up) behind the series and draws switches as dashed lines. */
function annotationsPlugin(ann: Annotations): uPlot.Plugin {
  const band = (u: uPlot, from: number, to: number, fill: string) => {
    const { ctx, bbox } = u;
    const x0 = Math.max(bbox.left, u.valToPos(from, 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(to, 'x', true));
    if (x1 <= x0) return;
    ctx.fillStyle = fill;
    ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
  };
  return {
    hooks: {
      drawClear: [
        (u) => {
          u.ctx.save();
          if (ann.warmup) band(u, ann.warmup[0], ann.warmup[1], WARMUP_FILL);
          for (const [s, e] of ann.stalls) band(u, s, e, STALL_FILL);
          u.ctx.restore();
        },
      ],
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.strokeStyle = SWITCH_STROKE;
          // 2 px wide on whole pixels, so the line keeps its colour instead of anti-aliasing away.
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
          for (const t of ann.switches) {
            const x = Math.round(u.valToPos(t, 'x', true));
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

export interface TimeChartOptions {
  title: string;
  seriesLabel: string;
  yLabel: string;
  color: string;
  /** Draw as steps (a value holds until the next point), e.g. the rendition bitrate. */
  stepped?: boolean;
  syncKey: string;
  annotations: Annotations;
  /** Called when the user drags over a range (zoom) or double-clicks (reset): zooms every chart. */
  onZoom: (range: [number, number] | null) => void;
}

export function timeChart(parent: HTMLElement, o: TimeChartOptions): Chart {
  const chart = new Chart(
    parent,
    o.title,
    (width) => ({
      width,
      height: 170,
      scales: {
        x: { time: false },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      cursor: { sync: { key: o.syncKey }, drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      axes: [
        { ...AXIS, label: 'seconds since session start', labelSize: 18, size: 34 },
        { ...AXIS, label: o.yLabel, labelSize: 18, size: 52 },
      ],
      series: [
        { label: 't (s)', value: (_u, v) => (v == null ? '—' : v.toFixed(1)) },
        {
          label: o.seriesLabel,
          stroke: o.color,
          fill: `${o.color}18`,
          width: 1.5,
          spanGaps: false,
          points: { show: false },
          paths: o.stepped ? uPlot.paths.stepped?.({ align: 1 }) : undefined,
          value: (_u, v) => (v == null ? '—' : v.toFixed(2)),
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            o.onZoom([min, max]);
          },
        ],
      },
      plugins: [annotationsPlugin(o.annotations)],
    }),
    170,
  );
  chart.box.addEventListener('dblclick', () => o.onZoom(null));
  return chart;
}
