/**
 * The one place that knows event dialects. Each rule maps one event type (or a family of them)
 * to dialect-free signals in our units; everything after this module reads signals only.
 * Dialects: the testbed's dash.js client (FIELD_NOTES section 2), our reporter SDK (same names,
 * extra fields; docs/events.md) and CMCD v2 event-mode reports stored as `cmcd_<e>` events whose
 * payload holds the decoded keys in CMCD units (kbps, ms). To add a dialect, add rules.
 */
import type { QoeEvent, Signal } from './types.ts';

type Payload = Record<string, unknown>;

export interface SignalRule {
  /** Who sends it, for docs and debugging. */
  dialect: 'testbed+reporter' | 'reporter' | 'cmcd';
  /** Exact event type, or a prefix ending in '*'. */
  eventType: string;
  toSignals(t: number, p: Payload): Signal[];
}

/** A finite number (numbers or numeric strings), else null. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A bitrate: 0 and negatives mean "unknown" (the testbed sends 0 before the first switch). */
function rate(v: unknown): number | null {
  const n = num(v);
  return n !== null && n > 0 ? n : null;
}

function nonNeg(v: unknown): number | null {
  const n = num(v);
  return n !== null && n >= 0 ? n : null;
}

/** docs/events.md: an event without media_type counts as video. */
function isVideo(p: Payload): boolean {
  const m = p.media_type;
  return m === undefined || m === null || m === 'video';
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}

// ---------------------------------------------------------------------------------------------
// testbed dash.js client and reporter SDK (the reporter adds fields, never renames)

function htmlState(t: number, state: unknown): Signal[] {
  // The testbed sends old_state equal to new_state (it overwrites before sending), so only
  // new_state is read. 'waiting' is the HTML media element's waiting: a stall once playing.
  switch (state) {
    case 'playing':
      return [{ kind: 'playing', t }];
    case 'paused':
      return [{ kind: 'paused', t }];
    case 'seeking':
      return [{ kind: 'seeking', t }];
    case 'waiting':
    case 'stalled':
    case 'buffering':
      return [{ kind: 'stall_start', t }];
    case 'ended':
      return [{ kind: 'end', t, reason: 'ended' }];
    default:
      return [];
  }
}

function periodic(t: number, p: Payload): Signal[] {
  const out: Signal[] = [];
  const ct = num(p.current_time);
  if (ct !== null) out.push({ kind: 'playhead', t, s: ct, rate: num(p.playback_rate) });
  const bps = rate(p.current_bitrate);
  if (bps !== null) {
    out.push({ kind: 'rendition', t, bps, quality: null, fromBps: null, fromQuality: null, explicit: false });
  }
  const lat = nonNeg(p.live_latency);
  if (lat !== null) out.push({ kind: 'latency', t, s: lat });
  const tput = rate(p.throughput_bps);
  if (tput !== null) out.push({ kind: 'throughput', t, bps: tput });
  const df = nonNeg(p.dropped_frames);
  if (df !== null) out.push({ kind: 'dropped', t, frames: df });
  // The periodic buffer_level is no stall signal: the testbed fills it from audio and video
  // updates alike. It only feeds the buffer time series.
  const bl = nonNeg(p.buffer_level);
  if (bl !== null) out.push({ kind: 'buffer', t, s: bl, forStalls: false });
  return out;
}

function fragmentThroughput(p: Payload): number | null {
  const direct = rate(p.throughput_bps);
  if (direct !== null) return direct;
  const bytes = num(p.bytes);
  const ms = num(p.download_time_ms);
  return bytes !== null && ms !== null && bytes > 0 && ms > 0 ? (bytes * 8) / (ms / 1000) : null;
}

const PLAYER_RULES: SignalRule[] = [
  { dialect: 'testbed+reporter', eventType: 'stream_initialized', toSignals: (t) => [{ kind: 'init', t }] },
  { dialect: 'reporter', eventType: 'play_requested', toSignals: (t) => [{ kind: 'play_request', t }] },
  {
    dialect: 'testbed+reporter',
    eventType: 'playback_started',
    toSignals: (t, p) => {
      const out: Signal[] = [{ kind: 'playing', t }];
      const ms = nonNeg(p.startup_time_ms);
      if (ms !== null) out.push({ kind: 'startup_reported', t, s: ms / 1000 });
      return out;
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'playback_state_changed',
    toSignals: (t, p) => htmlState(t, p.new_state),
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'quality_change_rendered',
    toSignals: (t, p) => {
      if (!isVideo(p)) return [];
      const quality = num(p.new_quality ?? p.quality);
      const fromQuality = num(p.old_quality);
      // Same index on both sides is no rendered change (the testbed also sends audio changes
      // without media_type; with one audio track those look like this).
      if (quality !== null && fromQuality !== null && quality === fromQuality) return [];
      return [
        {
          kind: 'rendition',
          t,
          bps: rate(p.bitrate ?? p.new_bitrate),
          quality,
          fromBps: rate(p.old_bitrate),
          fromQuality,
          explicit: true,
        },
      ];
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'buffer_level_updated',
    toSignals: (t, p) => {
      const s = nonNeg(p.buffer_level);
      return isVideo(p) && s !== null ? [{ kind: 'buffer', t, s, forStalls: true }] : [];
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'fragment_loading_completed',
    toSignals: (t, p) => {
      const bps = isVideo(p) ? fragmentThroughput(p) : null;
      return bps !== null ? [{ kind: 'throughput', t, bps }] : [];
    },
  },
  {
    // "A stall started". Its buffer_level/current_bitrate are stale copies; not used.
    dialect: 'testbed+reporter',
    eventType: 'rebuffer_event',
    toSignals: (t) => [{ kind: 'stall_start', t }],
  },
  {
    dialect: 'reporter',
    eventType: 'rebuffer_ended',
    toSignals: (t, p) => {
      const ms = nonNeg(p.duration_ms);
      return [{ kind: 'stall_end', t, durationS: ms === null ? null : ms / 1000, current: true }];
    },
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'playback_error',
    toSignals: (t, p) => [
      {
        kind: 'error',
        t,
        fatal: typeof p.fatal === 'boolean' ? p.fatal : null,
        code: str(p.error_code),
      },
    ],
  },
  {
    dialect: 'testbed+reporter',
    eventType: 'playback_ended',
    toSignals: (t) => [{ kind: 'end', t, reason: 'ended' }],
  },
  { dialect: 'testbed+reporter', eventType: 'periodic_metrics', toSignals: periodic },
  {
    dialect: 'reporter',
    eventType: 'session_ended',
    toSignals: (t, p) => [{ kind: 'end', t, reason: p.reason === 'ended' ? 'ended' : 'session_end' }],
  },
];

// ---------------------------------------------------------------------------------------------
// CMCD v2 event mode: `cmcd_<e>` with decoded keys in CMCD units

/**
 * A CMCD numeric value for video. CMCD v2 sends many keys as inner lists, decoded to JSON as
 * numbers or `{value, params}` items whose params name the object type (`v`, `a`, `av`, ...).
 * A tagged video (or muxed) entry wins; else the first untagged number.
 */
export function cmcdVideoValue(v: unknown): number | null {
  if (!Array.isArray(v)) return num(v);
  let untagged: number | null = null;
  for (const item of v) {
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const { value, params } = item as { value?: unknown; params?: Record<string, unknown> };
      const n = num(value);
      if (n === null) continue;
      if (params && (params.v === true || params.av === true)) return n;
      if (!params || Object.keys(params).length === 0) untagged ??= n;
    } else {
      untagged ??= num(item);
    }
  }
  return untagged;
}

/** Object-type suffixes the collector's flattening writes (`bl_v`, `bl_a`, ...), video ones excluded. */
const NON_VIDEO_TYPES = ['a', 'i', 'c', 'tt', 'k', 'o', 'm'];

/**
 * The video value of CMCD key `key` in a stored payload. The collector flattens
 * `bl=(6000;v 3000;a)` to `bl: 6000, bl_v: 6000, bl_a: 3000`, and `bl=(3000;a)` to
 * `bl: 3000, bl_a: 3000`: the headline `bl` is then the audio entry. So `K_v`, else `K_av`,
 * else `K` unless it is only a copy of a non-video entry; raw inner lists (older events) as
 * `cmcdVideoValue`.
 */
export function cmcdKeyValue(p: Payload, key: string): number | null {
  const tagged = num(p[`${key}_v`]) ?? num(p[`${key}_av`]);
  if (tagged !== null) return tagged;
  const v = p[key];
  if (Array.isArray(v)) return cmcdVideoValue(v);
  const n = num(v);
  if (n === null) return null;
  for (const t of NON_VIDEO_TYPES) if (num(p[`${key}_${t}`]) === n) return null;
  return n;
}

/** Every number in a CMCD list (bsd lists one duration per finished stall). */
function cmcdNumbers(v: unknown): number[] {
  const items = Array.isArray(v) ? v : [v];
  const out: number[] = [];
  for (const item of items) {
    const n = num(item !== null && typeof item === 'object' ? (item as { value?: unknown }).value : item);
    if (n !== null) out.push(n);
  }
  return out;
}

/** The video stall durations (ms) of a CMCD `bsd`, flattened or as a raw list. */
function stallDurations(p: Payload): number[] {
  const tagged = p.bsd_v ?? p.bsd_av;
  if (tagged !== undefined) return cmcdNumbers(tagged);
  if (Array.isArray(p.bsd_list)) return cmcdNumbers(p.bsd_list);
  if (Array.isArray(p.bsd)) return cmcdNumbers(p.bsd);
  const one = cmcdKeyValue(p, 'bsd');
  return one === null ? [] : [one];
}

/** The first error code of a CMCD `ec` list (strings, or `{value}` items). */
function firstCode(ec: unknown): string | null {
  for (const item of Array.isArray(ec) ? ec : [ec]) {
    const v = item !== null && typeof item === 'object' ? (item as { value?: unknown }).value : item;
    const s = str(v);
    if (s) return s;
  }
  return null;
}

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
    for (const ms of stallDurations(p)) {
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

const CMCD_RULES: SignalRule[] = [
  {
    dialect: 'cmcd',
    eventType: 'cmcd_*',
    toSignals: (t, p) => {
      const e = typeof p.e === 'string' ? p.e : '';
      // An rr carries the state at response time stamped with the request's start (hls.js),
      // so its `sta` is not read. Other reports' `sta` is the state at their `ts`.
      const out = e === 'rr' ? [] : cmcdState(t, p.sta, e === 'ps');
      if (e === 'e' || (p.ec !== undefined && p.sta !== 'f')) {
        out.push({ kind: 'error', t, fatal: null, code: firstCode(p.ec) });
      }
      return out.concat(cmcdCommon(t, p, e));
    },
  },
];

/** Every rule, in lookup order. */
export const SIGNAL_RULES: readonly SignalRule[] = [...PLAYER_RULES, ...CMCD_RULES];

const exact = new Map<string, SignalRule>();
const prefixes: Array<[string, SignalRule]> = [];
for (const r of SIGNAL_RULES) {
  if (r.eventType.endsWith('*')) prefixes.push([r.eventType.slice(0, -1), r]);
  else exact.set(r.eventType, r);
}

function ruleFor(eventType: string): SignalRule | undefined {
  const hit = exact.get(eventType);
  if (hit) return hit;
  for (const [prefix, rule] of prefixes) if (eventType.startsWith(prefix)) return rule;
  return undefined;
}

/** The signals one event carries (empty for events QoE does not use, or a bad timestamp). */
export function toSignals(event: QoeEvent): Signal[] {
  const t = event.timestamp;
  if (typeof t !== 'number' || !Number.isFinite(t)) return [];
  const rule = ruleFor(event.event_type);
  if (!rule) return [];
  const payload = event.payload && typeof event.payload === 'object' ? event.payload : {};
  // CMCD events keep `e` in the event type; the rule reads it from the payload or the type.
  if (rule.dialect === 'cmcd' && typeof payload.e !== 'string') {
    return rule.toSignals(t, { ...payload, e: event.event_type.slice('cmcd_'.length) });
  }
  return rule.toSignals(t, payload);
}
