/**
 * uPlot charts: CDFs (one line per group on shared axes) and time series (one or more series
 * per chart, stacked charts on one synced time axis, stalls shaded and switches marked). Every
 * chart downloads as SVG, PNG and CSV of what it plots.
 */
import uPlot from 'uplot';
import {
  type Annotations,
  annotationsPlugin,
  STALL_BAR,
  STALL_FILL,
  SWITCH_STROKE,
  WARMUP_FILL,
} from './annotations.ts';
import { h } from './dom.ts';
import { type Figure, type FigureSeries, figureCsv, figureSvg, fileStem } from './figure.ts';
import { type LegendEntry, SWATCH } from './legend.ts';
import { chartPng } from './png.ts';

export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#393b79',
  '#ad494a',
  '#637939',
];
const AXIS = { stroke: '#444', grid: { stroke: '#e6e6e6', width: 1 }, ticks: { stroke: '#ccc', width: 1 } };

export interface SeriesSpec extends FigureSeries {
  /** Show sample dots (sparse samples stay visible as samples). */
  dots?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** 'cdf': y is a fraction in [0, 1]; 'time': y from 0 to the data's maximum. */
  kind: 'cdf' | 'time';
  /** y ticks at the distinct values seen when there are few of them (bitrate ladder rungs). */
  rungs?: boolean;
  /** x values are counts: ticks only at whole numbers. */
  xIntegers?: boolean;
  /** The smallest top of the y axis (e.g. 1.2 for a playback rate). */
  yMinTop?: number;
  annotations?: Annotations;
  syncKey?: string;
  /** Drag over a range (zoom) or double-click (reset). */
  onZoom?: (range: [number, number] | null) => void;
}

const narrow = () => window.matchMedia('(max-width: 600px)').matches;

/** A uPlot chart inside a labelled box that follows its box's width and can be fed new data. */
export class Chart {
  readonly box: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly note: HTMLElement;
  private readonly captionText: HTMLElement;
  private plot: uPlot | undefined;
  private key = '';
  private series: SeriesSpec[] = [];
  private data: uPlot.AlignedData = [[]];
  private readonly resize: ResizeObserver;

  constructor(
    parent: HTMLElement,
    readonly spec: ChartSpec,
  ) {
    this.plotEl = h('div', { class: 'plot' });
    this.note = h('span', { class: 'muted chart-note', hidden: true });
    this.captionText = h('span', { class: 'title' }, spec.title);
    const button = (format: 'svg' | 'png' | 'csv') =>
      h(
        'button',
        {
          type: 'button',
          class: 'dl',
          'data-format': format,
          title: `Download this chart as ${format.toUpperCase()}${format === 'csv' ? ' (the plotted points)' : ''}`,
          onclick: () => this.download(format),
        },
        format.toUpperCase(),
      );
    this.box = h(
      'figure',
      { class: 'chart', 'data-title': spec.title },
      h(
        'figcaption',
        {},
        this.captionText,
        this.note,
        h('span', { class: 'tools' }, button('svg'), button('png'), button('csv')),
      ),
      this.plotEl,
    );
    parent.append(this.box);
    this.resize = new ResizeObserver(() => {
      const w = this.width();
      if (this.plot && Math.abs(this.plot.width - w) > 2)
        this.plot.setSize({ width: w, height: this.height() });
    });
    this.resize.observe(this.box);
    if (spec.onZoom) this.box.addEventListener('dblclick', () => spec.onZoom?.(null));
  }

  private width(): number {
    return Math.max(260, Math.floor(this.box.clientWidth) - 18);
  }

  /** Total canvas height: the plot area stays >= 220 px on desktop once axes are taken off. */
  private height(): number {
    return narrow() ? 230 : 290;
  }

  setCaption(text: string): void {
    this.captionText.textContent = text;
  }

  /**
   * Draws data (x first, then one array per series); rebuilds only when the series change.
   * xRange pins the x axis (stacked charts share one); otherwise it follows the data.
   */
  set(series: SeriesSpec[], data: uPlot.AlignedData, xRange?: [number, number], emptyNote = 'no data'): void {
    const points = data[0]?.length ?? 0;
    this.series = series;
    this.data = data;
    this.box.dataset.series = series.map((s) => s.label).join('|');
    this.box.dataset.points = String(points);
    const empty = points === 0;
    this.box.classList.toggle('empty', empty);
    this.note.hidden = !empty;
    this.note.textContent = `— ${emptyNote}`;
    this.plotEl.hidden = empty;
    const key = series.map((s) => `${s.label}\u0001${s.color}`).join('\u0000');
    if (this.plot && key === this.key) {
      this.plot.setData(data, !xRange);
    } else {
      this.plot?.destroy();
      this.key = key;
      this.plot = new uPlot(this.options(), data, this.plotEl);
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

  /** Distinct y values when there are few (the ladder rungs a bitrate chart steps between). */
  private rungs(): number[] | null {
    const seen = new Set<number>();
    for (const col of this.data.slice(1))
      for (const v of Array.from(col as ArrayLike<number | null>)) {
        if (v == null) continue;
        seen.add(Number(v.toFixed(4)));
        if (seen.size > 8) return null;
      }
    return seen.size ? [...seen].sort((a, b) => a - b) : null;
  }

  private options(): uPlot.Options {
    const s = this.spec;
    const cdf = s.kind === 'cdf';
    const ySplits = s.rungs
      ? (u: uPlot, _i: number, min: number, max: number, incr: number) => {
          const rungs = this.rungs();
          if (!rungs) return defaultSplits(min, max, incr);
          // Keep rungs at least 14 px apart so their labels do not collide.
          const out: number[] = [];
          let lastPx = Number.POSITIVE_INFINITY;
          for (const v of [0, ...rungs]) {
            if (v < min || v > max) continue;
            const px = u.valToPos(v, 'y');
            if (Math.abs(lastPx - px) >= 14) {
              out.push(v);
              lastPx = px;
            }
          }
          return out;
        }
      : undefined;
    return {
      width: this.width(),
      height: this.height(),
      scales: {
        x: { time: false },
        y: cdf
          ? { range: [0, 1] }
          : { range: (_u, _min, max) => [0, Math.max(s.yMinTop ?? 0, max > 0 ? max * 1.1 : 1)] },
      },
      legend: { live: !cdf },
      cursor: {
        ...(s.syncKey ? { sync: { key: s.syncKey } } : {}),
        drag: { x: true, y: false, setScale: !s.onZoom },
      },
      axes: [
        {
          ...AXIS,
          label: s.xLabel,
          labelSize: 18,
          size: 34,
          ...(s.xIntegers
            ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000] }
            : {}),
        },
        {
          ...AXIS,
          label: s.yLabel,
          labelSize: 18,
          size: 54,
          ...(ySplits ? { splits: ySplits } : {}),
          ...(cdf ? { splits: () => [0, 0.25, 0.5, 0.75, 1] } : {}),
        },
      ],
      series: [
        {
          label: s.xLabel,
          value: (_u, v) => (v == null ? '—' : cdf ? String(Number(v.toPrecision(4))) : v.toFixed(1)),
        },
        ...this.series.map(
          (x): uPlot.Series => ({
            label: x.label,
            stroke: x.color,
            fill: !cdf && this.series.length === 1 ? `${x.color}14` : undefined,
            width: this.series.length > 6 ? 1.25 : 1.75,
            // Overlaid sessions share one x column: a line must cross the other sessions' x values.
            spanGaps: cdf || x.stepped || this.series.length > 1,
            points: x.dots ? { size: 4, fill: x.color } : { show: false },
            paths: x.stepped ? uPlot.paths.stepped?.({ align: 1 }) : undefined,
            value: (_u, v) => (v == null ? '—' : String(Number(v.toPrecision(4)))),
          }),
        ),
      ],
      hooks: s.onZoom
        ? {
            setSelect: [
              (u) => {
                if (u.select.width < 3) return;
                const min = u.posToVal(u.select.left, 'x');
                const max = u.posToVal(u.select.left + u.select.width, 'x');
                u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                s.onZoom?.([min, max]);
              },
            ],
          }
        : {},
      plugins: s.annotations ? [annotationsPlugin(s.annotations)] : [],
    };
  }

  /** What the chart shows, for the SVG and CSV files. */
  figure(): Figure {
    const u = this.plot;
    const xs = this.data[0] as ArrayLike<number>;
    const x = u?.scales.x;
    const y = u?.scales.y;
    const a = this.spec.annotations;
    const rungs = this.spec.rungs ? this.rungs() : null;
    return {
      title: this.captionText.textContent ?? this.spec.title,
      xLabel: this.spec.xLabel,
      yLabel: this.spec.yLabel,
      series: this.series,
      data: this.data as Figure['data'],
      xRange: [x?.min ?? xs[0] ?? 0, x?.max ?? xs[xs.length - 1] ?? 1],
      yRange: [y?.min ?? 0, y?.max ?? 1],
      yTicks: this.spec.kind === 'cdf' ? [0, 0.25, 0.5, 0.75, 1] : rungs ? [0, ...rungs] : undefined,
      bands: a
        ? [
            ...(a.warmup
              ? [{ from: a.warmup[0], to: a.warmup[1], fill: WARMUP_FILL, label: 'warm-up (trimmed)' }]
              : []),
            ...a.stalls.map(([from, to]) => ({ from, to, fill: STALL_FILL, label: 'stall' })),
          ]
        : [],
      marks: a?.switches.length
        ? { at: a.switches, color: SWITCH_STROKE, label: 'rendition switch' }
        : undefined,
    };
  }

  /** The CSV download's text when it is not the plotted points (CDFs: the data without padding). */
  csvText: (() => string) | undefined;

  csv(): string {
    if (this.csvText) return this.csvText();
    const f = this.figure();
    const unit = this.spec.yLabel;
    return figureCsv({
      ...f,
      series: f.series.map((s) => ({
        ...s,
        label: unit && this.spec.kind === 'time' ? `${s.label} (${unit})` : s.label,
      })),
    });
  }

  svg(): string {
    return figureSvg(this.figure());
  }

  /** The chart canvas on white, with its title above and its legend below (png.ts). */
  async png(): Promise<Blob> {
    const src = this.plot?.ctx.canvas;
    if (!src) throw new Error('nothing drawn');
    const entries: LegendEntry[] = this.series.map((s) => ({ label: s.label, color: s.color, kind: 'line' }));
    if (this.spec.annotations?.stalls.length)
      entries.push({ label: 'stall', color: STALL_BAR, kind: 'line' });
    const { blob, legend } = chartPng(
      src,
      this.plot?.width ?? src.width,
      this.captionText.textContent ?? '',
      entries,
    );
    // Where the legend went (CSS px), for the browser tests that check it for overlaps.
    this.box.dataset.pngLegend = JSON.stringify(
      legend.map((e) => ({ x: e.x, row: e.row, width: SWATCH + e.width })),
    );
    return blob;
  }

  async download(format: 'svg' | 'png' | 'csv'): Promise<void> {
    const blob =
      format === 'png'
        ? await this.png()
        : new Blob([format === 'svg' ? this.svg() : this.csv()], {
            type: format === 'svg' ? 'image/svg+xml' : 'text/csv',
          });
    saveFile(`${fileStem(this.captionText.textContent ?? '')}.${format}`, blob);
  }
}

/** Offers a file to the user (a click on a download link to an object URL). */
export function saveFile(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function defaultSplits(min: number, max: number, incr: number): number[] {
  const out: number[] = [];
  for (let v = Math.ceil(min / incr) * incr; v <= max + incr * 1e-9; v += incr)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** A CDF chart: x = metric value (in display units), y = fraction of sessions at or below. */
export function cdfChart(parent: HTMLElement, title: string, xLabel: string, xIntegers = false): Chart {
  return new Chart(parent, { title, xLabel, yLabel: 'fraction of sessions', kind: 'cdf', xIntegers });
}
