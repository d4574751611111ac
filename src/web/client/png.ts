/** A chart's PNG download: its canvas on white, the title above, the legend below. */
import { type LegendEntry, layoutLegend, type PlacedEntry, SWATCH, textWidth } from './legend.ts';

/** The font of legends in downloaded PNGs (CSS px, before the device pixel ratio). */
const LEGEND_FONT = '12px sans-serif';

/**
 * Composes the PNG: `src` is the plot's canvas, `cssWidth` its width in CSS px (the canvas is
 * larger by the device pixel ratio). The legend is measured on the canvas and wrapped into as
 * many rows as it needs (legend.ts). Returns the PNG and where each entry went (CSS px from the
 * left edge of the image).
 */
export function chartPng(
  src: HTMLCanvasElement,
  cssWidth: number,
  title: string,
  entries: LegendEntry[],
): { blob: Promise<Blob>; legend: PlacedEntry[] } {
  const k = src.width / cssWidth;
  const measurer = document.createElement('canvas').getContext('2d');
  if (measurer) measurer.font = LEGEND_FONT;
  const legend = layoutLegend(entries, src.width / k - 16, (t) =>
    Math.ceil(measurer?.measureText(t).width ?? textWidth(t)),
  );
  const top = Math.round(30 * k);
  const bottom = Math.round((legend.rows * 18 + 8) * k);
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height + top + bottom;
  const ctx = c.getContext('2d');
  if (!ctx) throw new Error('no 2d context');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#1d2330';
  ctx.font = `bold ${Math.round(14 * k)}px sans-serif`;
  ctx.fillText(title, 8 * k, 20 * k);
  ctx.drawImage(src, 0, top);
  ctx.scale(k, k);
  ctx.font = LEGEND_FONT;
  const placed = legend.placed.map((e) => ({ ...e, x: 8 + e.x }));
  for (const e of placed) {
    const y = (top + src.height) / k + e.row * 18 + 14;
    ctx.fillStyle = e.color;
    ctx.fillRect(e.x, y - 6, 18, 3);
    ctx.fillStyle = '#1d2330';
    ctx.fillText(e.text, e.x + SWATCH, y);
  }
  const blob = new Promise<Blob>((resolve, reject) =>
    c.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
  );
  return { blob, legend: placed };
}
