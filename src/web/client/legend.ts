/**
 * Legends of downloaded figures laid out by the width of their text: entries flow left to right
 * and wrap to a new row when the next one would not fit, so long labels (experiment ids, run
 * labels) never print over each other. Pure: the PNG measures text on its canvas; the SVG,
 * which has no renderer at hand, estimates it (textWidth) on the wide side.
 */

export interface LegendEntry {
  label: string;
  color: string;
  kind: 'line' | 'box';
}

export interface PlacedEntry extends LegendEntry {
  /** The text drawn (the label, shortened with an ellipsis only if wider than a whole row). */
  text: string;
  /** Left edge of the swatch, from the legend's left edge. */
  x: number;
  row: number;
  /** Width of the text as measured. */
  width: number;
}

/** Swatch (18) plus the space between swatch and text (6). */
export const SWATCH = 24;
/** Space between one entry's text and the next entry's swatch. */
export const ENTRY_GAP = 18;

/**
 * Advance widths (1/1000 em) of printable ASCII, the larger of Helvetica/Arial and DejaVu Sans
 * (what "Helvetica, Arial, sans-serif" falls back to on Linux), so an estimate is never short.
 */
const ASCII_WIDTHS = [
  318, 401, 460, 838, 637, 951, 780, 275, 391, 391, 500, 838, 318, 361, 318, 337, 637, 637, 637, 637, 637,
  637, 637, 637, 637, 637, 337, 337, 838, 838, 838, 556, 1015, 685, 687, 722, 771, 667, 611, 778, 752, 295,
  500, 667, 558, 863, 749, 788, 667, 788, 722, 667, 611, 732, 685, 989, 686, 667, 686, 391, 337, 391, 838,
  556, 500, 613, 635, 550, 635, 616, 353, 635, 634, 278, 278, 580, 278, 975, 634, 612, 635, 635, 412, 521,
  393, 634, 592, 818, 592, 592, 525, 637, 337, 637, 838,
];

/** Estimated width in px of text in a sans-serif font of `size` px (never less than drawn). */
export function textWidth(text: string, size = 12): number {
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const w = c >= 32 && c < 127 ? ASCII_WIDTHS[c - 32] : undefined;
    em += w !== undefined ? w / 1000 : c >= 0x1100 ? 1 : 0.84;
  }
  return Math.ceil(em * size);
}

/**
 * Places entries in rows no wider than `width`. An entry wider than a whole row gets a row of
 * its own with its text cut to fit (ending in "…").
 */
export function layoutLegend(
  entries: readonly LegendEntry[],
  width: number,
  measure: (text: string) => number,
): { placed: PlacedEntry[]; rows: number } {
  const placed: PlacedEntry[] = [];
  let x = 0;
  let row = 0;
  for (const e of entries) {
    let text = e.label;
    let w = measure(text);
    if (SWATCH + w > width) {
      const chars = [...text];
      while (chars.length > 1 && SWATCH + measure(`${chars.join('')}…`) > width) chars.pop();
      text = `${chars.join('')}…`;
      w = measure(text);
    }
    if (x > 0 && x + SWATCH + w > width) {
      row++;
      x = 0;
    }
    placed.push({ ...e, text, x, row, width: w });
    x += SWATCH + w + ENTRY_GAP;
  }
  return { placed, rows: entries.length ? row + 1 : 0 };
}
