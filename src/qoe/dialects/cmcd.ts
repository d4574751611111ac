/**
 * CMCD v2 (CTA-5004-B) event-mode reports, stored by the collector as `cmcd_<e>` events whose
 * payload holds the decoded keys in CMCD units (kbps, ms); src/cmcd/payload.ts reads that shape.
 */

import { CMCD_EVENT_PREFIX } from '@stats-server/events';
import { cmcdFirstErrorCode, cmcdKeyValue, cmcdStallDurations } from '../../cmcd/payload.ts';
import { nonNeg, num } from '../../events/values.ts';
import type { Signal } from '../types.ts';
import type { Payload, SignalRule } from './rule.ts';

/**
 * Play-state signals of `sta`. `transition` for `ps` reports (the state just changed); on other
 * reports `sta` is the current state, so a rebuffering there never begins a second stall.
 */
function cmcdState(t: number, sta: unknown, transition: boolean): Signal[] {
  switch (sta) {
    case 's':
      return [{ kind: 'play_request', t }];
    case 'd':
      return [{ kind: 'init', t }];
    case 'p':
      return [{ kind: 'playing', t }];
    case 'k':
      return [{ kind: 'seeking', t }];
    case 'r':
      return [transition ? { kind: 'stall_start', t } : { kind: 'stall_start', t, level: true }];
    // 'w' is CMCD's "waiting for a user action", not the HTML waiting: not a stall.
    case 'a':
    case 'w':
      return [{ kind: 'paused', t }];
    case 'e':
      return [{ kind: 'end', t, reason: 'ended' }];
    case 'q':
      return [{ kind: 'end', t, reason: 'quit' }];
    case 'f':
      return [
        { kind: 'error', t, fatal: true, code: null },
        { kind: 'end', t, reason: 'fatal' },
      ];
    default:
      return [];
  }
}

/**
 * A report about one media object rather than about playback: `rr` (response received),
 * request-mode data (`cmcd_request`), anything naming an object type `ot` or a `url`. Its
 * `ts` is the request's start while its values may be taken at request or response time.
 */
function isObjectReport(p: Payload, e: string): boolean {
  return e === 'rr' || e === 'request' || p.ot !== undefined || p.url !== undefined;
}

/** Object types whose request-time buffer level is the video buffer (plots only). */
const VIDEO_OBJECTS = new Set([undefined, 'v', 'av']);

/** Keys any CMCD report may carry, whatever its `e`. */
function cmcdCommon(t: number, p: Payload, e: string): Signal[] {
  const out: Signal[] = [];
  const objectReport = isObjectReport(p, e);
  const msd = nonNeg(p.msd);
  if (msd !== null) out.push({ kind: 'startup_reported', t, s: msd / 1000 });
  const bl = cmcdKeyValue(p, 'bl');
  if (bl !== null && bl >= 0) {
    // A buffer level on an object report was taken at request (or response) time and is
    // stamped with the request's start: it feeds the plot (video objects only), never stalls.
    // A report that says "playing" (`sta=p`) is no stall, whatever its bl: hls.js 1.7 sends
    // bl=0 on the ps that announces its first frame.
    if (!objectReport) out.push({ kind: 'buffer', t, s: bl / 1000, forStalls: p.sta !== 'p' });
    else if (VIDEO_OBJECTS.has(p.ot as string | undefined)) {
      out.push({ kind: 'buffer', t, s: bl / 1000, forStalls: false });
    }
  }
  const pt = num(p.pt);
  if (pt !== null) out.push({ kind: 'playhead', t, s: pt / 1000, rate: num(p.pr) });
  const ltc = nonNeg(p.ltc);
  if (ltc !== null) out.push({ kind: 'latency', t, s: ltc / 1000 });
  const dfa = nonNeg(p.dfa);
  if (dfa !== null) out.push({ kind: 'dropped', t, frames: dfa });
  const mtp = cmcdKeyValue(p, 'mtp');
  if (mtp !== null && mtp > 0) out.push({ kind: 'throughput', t, bps: mtp * 1000 });
  // rr (response received) and request data (with an object type) describe a downloaded
  // object, not what is on screen. A `bc` is the switch itself, whatever object type it names
  // (hls.js sends `ot=v` on its video switches); a non-video `bc` is no video switch.
  const videoSwitch = e === 'bc' && VIDEO_OBJECTS.has(p.ot as string | undefined);
  if (!objectReport || videoSwitch) {
    // pb (playhead bitrate) is what is rendered; br is the selected rendition.
    const kbps = cmcdKeyValue(p, 'pb') ?? cmcdKeyValue(p, 'br');
    if (kbps !== null && kbps > 0) {
      out.push({
        kind: 'rendition',
        t,
        bps: kbps * 1000,
        quality: null,
        fromBps: null,
        fromQuality: null,
        explicit: e === 'bc',
      });
    }
  }
  if (!objectReport) {
    // bsd on an object report (dash.js puts it on the next media request) is stamped with
    // that request's start, not with the stall's end: it would place a phantom stall.
    for (const ms of cmcdStallDurations(p)) {
      if (ms >= 0) out.push({ kind: 'stall_end', t, durationS: ms / 1000, current: false });
    }
  }
  const bsa = p.bsa === undefined ? null : cmcdKeyValue(p, 'bsa');
  const bsda = p.bsda === undefined ? null : cmcdKeyValue(p, 'bsda');
  if (bsa !== null || bsda !== null) {
    out.push({ kind: 'stall_totals', t, count: bsa, timeS: bsda === null ? null : bsda / 1000 });
  }
  return out;
}

export const CMCD_RULES: readonly SignalRule[] = [
  {
    dialect: 'cmcd',
    eventType: `${CMCD_EVENT_PREFIX}*`,
    toSignals: (t, p, eventType) => {
      // The collector keeps `e` in the payload; older events have it only in the event type.
      const e = typeof p.e === 'string' ? p.e : eventType.slice(CMCD_EVENT_PREFIX.length);
      // An rr carries the state at response time stamped with the request's start (hls.js),
      // so its `sta` is not read. Other reports' `sta` is the state at their `ts`.
      const out = e === 'rr' ? [] : cmcdState(t, p.sta, e === 'ps');
      if (e === 'e' || (p.ec !== undefined && p.sta !== 'f')) {
        out.push({ kind: 'error', t, fatal: null, code: cmcdFirstErrorCode(p.ec) });
      }
      return out.concat(cmcdCommon(t, p, e));
    },
  },
];
