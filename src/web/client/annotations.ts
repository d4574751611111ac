/**
 * What the session charts draw besides the data: stalls (a red band with a solid bar along the
 * top), rendition switches (dashed lines, or short ticks on the x axis when there are many)
 * and the warm-up trimmed from the QoE numbers (grey).
 */
import type uPlot from 'uplot';

/** Stalls: a red band and a solid red bar along the top, unlike any series colour. */
export const STALL_FILL = 'rgba(214, 39, 40, 0.22)';
export const STALL_BAR = '#d62728';
export const SWITCH_STROKE = 'rgba(120, 60, 160, 0.85)';
export const WARMUP_FILL = 'rgba(120, 120, 120, 0.14)';
/** Above this many switches in view, switches are short ticks on the x axis, not full lines. */
export const MANY_SWITCHES = 15;

export interface Annotations {
  /** Stalls as [start, end] in chart x units (seconds since session start). */
  stalls: Array<[number, number]>;
  /** Rendition switches in chart x units. */
  switches: number[];
  /** The warm-up trimmed by the QoE endpoint, [0, end], or null. */
  warmup: [number, number] | null;
}

/** Shades stalls (and the trimmed warm-up) behind the series and marks switches. */
export function annotationsPlugin(ann: Annotations): uPlot.Plugin {
  const band = (u: uPlot, from: number, to: number, fill: string, bar?: string) => {
    const { ctx, bbox } = u;
    const x0 = Math.max(bbox.left, u.valToPos(from, 'x', true));
    const x1 = Math.min(bbox.left + bbox.width, u.valToPos(to, 'x', true));
    if (x1 <= x0 - 1) return;
    const w = Math.max(2 * devicePixelRatio, x1 - x0);
    ctx.fillStyle = fill;
    ctx.fillRect(x0, bbox.top, w, bbox.height);
    if (bar) {
      ctx.fillStyle = bar;
      ctx.fillRect(x0, bbox.top, w, 5 * devicePixelRatio);
    }
  };
  return {
    hooks: {
      drawClear: [
        (u) => {
          u.ctx.save();
          if (ann.warmup) band(u, ann.warmup[0], ann.warmup[1], WARMUP_FILL);
          for (const [s, e] of ann.stalls) band(u, s, e, STALL_FILL, STALL_BAR);
          u.ctx.restore();
        },
      ],
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          const xs = ann.switches
            .map((t) => Math.round(u.valToPos(t, 'x', true)))
            .filter((x) => x >= bbox.left && x <= bbox.left + bbox.width);
          const many = xs.length > MANY_SWITCHES;
          ctx.save();
          ctx.strokeStyle = SWITCH_STROKE;
          // Whole pixels, so the line keeps its colour instead of anti-aliasing away.
          ctx.lineWidth = (many ? 1 : 2) * devicePixelRatio;
          if (!many) ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
          const bottom = bbox.top + bbox.height;
          for (const x of xs) {
            ctx.beginPath();
            ctx.moveTo(x, many ? bottom - 8 * devicePixelRatio : bbox.top);
            ctx.lineTo(x, bottom);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}
