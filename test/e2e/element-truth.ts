/**
 * Ground truth from the <video> element itself: a logger injected into a page (kept in the page,
 * never sent) and the figures read off its log, to hold the server's inferred QoE against.
 */

/** One logged element event: its type, Unix seconds (Date.now(), the page's clock) and playhead. */
export interface ElementEvent {
  type: string;
  t: number;
  ct: number;
  rs: number;
}

/** What the element says about one playback. */
export interface ElementTruth {
  loadstart: number | null;
  firstPlaying: number | null;
  stalls: Array<{ start: number; end: number }>;
  stallTimeS: number;
  playedTimeS: number;
  ended: number | null;
}

/**
 * An init script (page.addInitScript) that logs the element `selector` names into
 * window.__truth: its life-cycle events and every timeupdate, with Date.now() / 1000 as the
 * page's own events are stamped.
 */
export function elementLoggerScript(selector: string): string {
  const types = [
    'loadstart',
    'play',
    'playing',
    'waiting',
    'pause',
    'seeking',
    'seeked',
    'ended',
    'timeupdate',
  ];
  return `(() => {
    window.__truth = [];
    const attach = () => {
      const v = document.querySelector(${JSON.stringify(selector)});
      if (!v) return;
      for (const type of ${JSON.stringify(types)}) {
        v.addEventListener(type, () =>
          window.__truth.push({ type, t: Date.now() / 1000, ct: v.currentTime, rs: v.readyState }));
      }
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', attach);
    else attach();
  })();`;
}

/**
 * Startup, stalls and played time as the element lived them: the first `playing` is the first
 * frame; after it, each `waiting` until the next `playing` is a stall; played time runs from a
 * `playing` to the next `waiting`, `pause` or `ended` (or the end of the log).
 */
export function elementTruth(log: readonly ElementEvent[]): ElementTruth {
  const loadstart = log.find((e) => e.type === 'loadstart')?.t ?? null;
  let firstPlaying: number | null = null;
  let playingSince: number | null = null;
  let waitingSince: number | null = null;
  let ended: number | null = null;
  let played = 0;
  const stalls: Array<{ start: number; end: number }> = [];
  for (const e of log) {
    if (e.type === 'playing') {
      firstPlaying ??= e.t;
      if (waitingSince !== null) stalls.push({ start: waitingSince, end: e.t });
      waitingSince = null;
      playingSince ??= e.t;
    } else if (e.type === 'waiting' || e.type === 'pause' || e.type === 'ended') {
      if (playingSince !== null) played += e.t - playingSince;
      playingSince = null;
      if (e.type === 'waiting' && firstPlaying !== null) waitingSince ??= e.t;
      if (e.type === 'ended') ended = e.t;
    }
  }
  const last = log.at(-1);
  if (playingSince !== null && last) played += last.t - playingSince;
  return {
    loadstart,
    firstPlaying,
    stalls,
    stallTimeS: stalls.reduce((a, s) => a + s.end - s.start, 0),
    playedTimeS: played,
    ended,
  };
}
