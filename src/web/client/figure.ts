/**
 * A chart's plotted data as files: CSV (one row per plotted x), and SVG drawn from the same
 * data by a small serialiser (axes with round ticks, one path per series, stall and warm-up
 * bands, switch marks, a legend). Pure: no DOM, unit-tested in test/unit/web-figure.test.ts.
 * No maintained library turns uPlot's canvas into vectors, so the SVG is written here.
 */
import { MANY_SWITCHES } from './annotations.ts';
import { type LegendEntry, layoutLegend, SWATCH, textWidth } from './legend.ts';

export interface FigureSeries {
  label: string;
  color: string;
  /** A value holds until the next point (drawn as a staircase). */
  stepped?: boolean;
}

export interface FigureBand {
  from: number;
  to: number;
  fill: string;
  label: string;
}

export interface Figure {
  title: string;
  xLabel: string;
  yLabel: string;
  series: FigureSeries[];
  /** x first, then one column per series (null: no value at that x). */
  data: Array<ArrayLike<number | null | undefined>>;
  xRange: [number, number];
  yRange: [number, number];
  /** Explicit y ticks (e.g. the bitrate ladder); round ticks otherwise. */
  yTicks?: number[];
  bands?: FigureBand[];
  /** Vertical marks (rendition switches). */
  marks?: { at: number[]; color: string; label: string };
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max)) || max <= min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Rows as CSV (RFC 4180 quoting), header first. */
export function toCsv(rows: unknown[][]): string {
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}

/** The plotted data as CSV: a header (x label, then series labels) and one row per x. */
export function figureCsv(f: Pick<Figure, 'xLabel' | 'series' | 'data'>): string {
  const xs = f.data[0] ?? [];
  const lines = [[f.xLabel, ...f.series.map((s) => s.label)].map(csvCell).join(',')];
  for (let i = 0; i < xs.length; i++) lines.push(f.data.map((col) => csvCell(col[i])).join(','));
  return `${lines.join('\n')}\n`;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short tick labels: 2500000 -> "2.5M" is not wanted here; values are already in display units. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toPrecision(3).replace(/\.?0+(e|$)/, '$1');
  return String(Number(v.toFixed(a < 1 ? 3 : 2)));
}

/**
 * The figure as a standalone SVG document, `width` wide; `height` tall with a one-row legend,
 * taller by a row (18) for each further row of a long legend (the plot keeps its size).
 */
export function figureSvg(f: Figure, width = 800, baseHeight = 420): string {
  const bands = f.bands ?? [];
  const entries: LegendEntry[] = [
    ...f.series.map((s): LegendEntry => ({ label: s.label, color: s.color, kind: 'line' })),
    ...bands
      .filter((b, i) => bands.findIndex((c) => c.label === b.label) === i)
      .map((b): LegendEntry => ({ label: b.label, color: b.fill, kind: 'box' })),
    ...(f.marks ? [{ label: f.marks.label, color: f.marks.color, kind: 'line' } as LegendEntry] : []),
  ];
  const legend = layoutLegend(entries, width - 70 - 20, (t) => textWidth(t, 12));
  const extraRows = Math.max(0, legend.rows - 1);
  const height = baseHeight + extraRows * 18;
  const m = { left: 70, right: 20, top: 36, bottom: 70 + extraRows * 18 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const [x0, x1] = f.xRange;
  const [y0, y1] = f.yRange;
  const sx = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const sy = (v: number) => m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const r = (v: number) => Math.round(v * 100) / 100;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(f.title)}</text>`,
    `<defs><clipPath id="plot"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`,
  );
  for (const b of bands) {
    const a = Math.max(x0, b.from);
    const z = Math.min(x1, b.to);
    if (z <= a) continue;
    out.push(
      `<rect class="band" x="${r(sx(a))}" y="${m.top}" width="${r(Math.max(0.5, sx(z) - sx(a)))}" height="${ph}" fill="${b.fill}"/>`,
    );
  }
  // Grid and ticks.
  const xt = niceTicks(x0, x1, 8);
  const yt = f.yTicks?.filter((v) => v >= y0 && v <= y1) ?? niceTicks(y0, y1, 6);
  for (const v of xt) {
    const x = r(sx(v));
    out.push(
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e6e6e6"/>`,
      `<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${tickLabel(v)}</text>`,
    );
  }
  for (const v of yt) {
    const y = r(sy(v));
    out.push(
      `<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e6e6e6"/>`,
      `<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${tickLabel(v)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`,
    `<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle">${esc(f.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>`,
  );
  if (f.marks) {
    const many = f.marks.at.filter((t) => t >= x0 && t <= x1).length > MANY_SWITCHES;
    for (const t of f.marks.at) {
      if (t < x0 || t > x1) continue;
      const x = r(sx(t));
      out.push(
        many
          ? `<line class="mark" x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph - 7}" stroke="${f.marks.color}" stroke-width="1.5"/>`
          : `<line class="mark" x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="${f.marks.color}" stroke-dasharray="5 4"/>`,
      );
    }
  }
  const xs = f.data[0] ?? [];
  f.series.forEach((s, i) => {
    const ys = f.data[i + 1] ?? [];
    let d = '';
    let prevY: number | null = null;
    for (let j = 0; j < xs.length; j++) {
      const xv = xs[j];
      const yv = ys[j];
      if (xv == null || yv == null) {
        if (!s.stepped) prevY = null;
        continue;
      }
      const x = r(sx(xv));
      const y = r(sy(yv));
      if (prevY === null) d += `M${x} ${y}`;
      else if (s.stepped) d += `H${x}V${y}`;
      else d += `L${x} ${y}`;
      prevY = y;
    }
    if (d)
      out.push(
        `<path class="series" data-label="${esc(s.label)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6" clip-path="url(#plot)"/>`,
      );
  });
  // Legend: series, then bands and marks, laid out by the width of their text.
  for (const e of legend.placed) {
    const x = m.left + e.x;
    const y = m.top + ph + 52 + e.row * 18;
    out.push(
      e.kind === 'line'
        ? `<line class="legend-swatch" x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${e.color}" stroke-width="2.5"/>`
        : `<rect class="legend-swatch" x="${x}" y="${y - 10}" width="18" height="11" fill="${e.color}"/>`,
      `<text class="legend" x="${x + SWATCH}" y="${y}">${e.text === e.label ? '' : `<title>${esc(e.label)}</title>`}${esc(e.text)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A file name from a title: "Video bitrate (Mbps)" -> "video-bitrate-mbps". */
export function fileStem(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'chart'
  );
}
