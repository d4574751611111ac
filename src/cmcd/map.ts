/**
 * Maps a validated CMCD report onto our event model (the CMCD contract in docs/events.md):
 * event_type `cmcd_<e>`, timestamp `ts`/1000, session_id `sid`, video_id `cid`, protocol from
 * `sf`, payload the decoded keys in CMCD units, flattened so every value is plain JSON that
 * pandas reads as a column. Pure, apart from the bounded per-session memory passed in.
 */
import { createHash } from 'node:crypto';
import { CMCD_EVENT_PREFIX, CMCD_REQUEST_EVENT_TYPE } from '@stats-server/events';
import type { SubmitEvent } from '../events/schema.ts';
import { CMCD_PROTOCOL, UNKNOWN_VIDEO } from '../sessions/summary.ts';
import type { CmcdData, CmcdMode } from './decode.ts';

interface Item {
  value: unknown;
  params?: Record<string, unknown>;
}

function isItem(v: unknown): v is Item {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'value' in v && 'params' in v;
}

const bare = (v: unknown): unknown => (isItem(v) ? v.value : v);

/** The object type an inner-list item is tagged with (`3000;v` -> "v"), if exactly one. */
function objectTypeOf(item: unknown): string | undefined {
  if (!isItem(item) || !item.params) return undefined;
  const tags = Object.entries(item.params)
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  return tags.length === 1 ? tags[0] : undefined;
}

/** Field names may not contain "." in any store; custom keys are reverse-DNS (`com.example-x`). */
export const payloadKey = (key: string): string => key.replaceAll('.', '_');

/**
 * Flattens decoded CMCD into the stored payload:
 * - a list of numbers `K=(4200;v 256;a)` becomes `K_v: 4200, K_a: 256` per object type, and
 *   `K` the headline value: the untagged item, else video, else muxed, else the first
 *   (`bl=(6000)` is just `bl: 6000`; v1's scalar `br=3000` is `br: 3000` alike). A list that
 *   does not fit that shape (two untagged items, a repeated type) also keeps `K_list`.
 * - a list of strings (`ec`, `nor`) stays an array of strings;
 * - tokens are strings, booleans `true`, parameters of scalars are dropped.
 */
export function flattenCmcd(data: CmcdData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, rawValue] of Object.entries(data)) {
    const key = payloadKey(rawKey);
    if (!Array.isArray(rawValue)) {
      out[key] = bare(rawValue);
      continue;
    }
    const values = rawValue.map(bare);
    if (!values.every((v) => typeof v === 'number')) {
      out[key] = values.map((v) => (typeof v === 'string' ? v : String(v)));
      continue;
    }
    if (values.length === 0) {
      out[key] = null;
      continue;
    }
    const byType = new Map<string, number>();
    let untagged: number | undefined;
    let irregular = false;
    for (const [i, item] of rawValue.entries()) {
      const value = values[i] as number;
      const type = objectTypeOf(item);
      if (type === undefined) {
        if (untagged !== undefined) irregular = true;
        untagged ??= value;
      } else {
        if (byType.has(type)) irregular = true;
        else byType.set(type, value);
      }
    }
    out[key] = untagged ?? byType.get('v') ?? byType.get('av') ?? values[0];
    for (const [type, value] of byType) out[`${key}_${type}`] = value;
    if (irregular) out[`${key}_list`] = values;
  }
  return out;
}

/** CMCD `sf` (streaming format) to our protocol field. */
export function protocolOf(sf: unknown): string {
  if (sf === 'd') return 'dash';
  if (sf === 'h') return 'hls';
  return CMCD_PROTOCOL;
}

/**
 * Remembers each session's content id and streaming format, so reports that omit them (players
 * send `cid`/`sf` on some events only) still get the session's video_id and protocol. Bounded:
 * the least recently used session is forgotten first.
 */
export class SessionMemory {
  readonly #entries = new Map<string, { cid?: string; sf?: string }>();
  constructor(private readonly max = 10_000) {}

  /** Records what this report says and fills in what it leaves out. */
  resolve(key: string, cid: string | undefined, sf: string | undefined): { cid?: string; sf?: string } {
    const known = this.#entries.get(key);
    const merged = { cid: cid ?? known?.cid, sf: sf ?? known?.sf };
    this.#entries.delete(key);
    this.#entries.set(key, merged);
    if (this.#entries.size > this.max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return merged;
  }
}

export interface MapContext {
  experimentId: string;
  mode: CmcdMode;
  /** Server time, used when a report has no `ts`. */
  now: Date;
  memory?: SessionMemory;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Builds the event for one validated report. The event_id makes a retried report (players
 * re-send the same encoded lines after a 429/5xx) a duplicate: `sid` + sequence number `sn`
 * + `ts` (ts too, so a player that reuses a fixed sid on reload, restarting `sn` at 0, is not
 * mistaken for a retry); without `sid`/`sn`, a hash of the whole event report.
 */
export function toEvent(data: CmcdData, ctx: MapContext): SubmitEvent & { timestamp_source?: 'server' } {
  const payload = flattenCmcd(data);
  const ts = typeof data.ts === 'number' && Number.isFinite(data.ts) ? data.ts : undefined;
  const sid = str(data.sid);
  const remembered =
    sid && ctx.memory
      ? ctx.memory.resolve(`${ctx.experimentId}\0${sid}`, str(data.cid), str(bare(data.sf)))
      : { cid: str(data.cid), sf: str(bare(data.sf)) };

  const event: SubmitEvent & { timestamp_source?: 'server' } = {
    experiment_id: ctx.experimentId,
    timestamp: (ts ?? ctx.now.getTime()) / 1000,
    event_type:
      ctx.mode === 'event' ? `${CMCD_EVENT_PREFIX}${String(bare(data.e))}` : CMCD_REQUEST_EVENT_TYPE,
    protocol: protocolOf(remembered.sf),
    video_id: remembered.cid ?? UNKNOWN_VIDEO,
    payload,
  };
  if (sid) event.session_id = sid;
  const eventId = eventIdOf(ctx.mode, sid, data.sn, ts, payload);
  if (eventId) event.event_id = eventId;
  if (ts === undefined) event.timestamp_source = 'server';
  return event;
}

function eventIdOf(
  mode: CmcdMode,
  sid: string | undefined,
  sn: unknown,
  ts: number | undefined,
  payload: Record<string, unknown>,
): string | undefined {
  const prefix = mode === 'event' ? 'cmcd' : 'cmcdq';
  if (sid && typeof sn === 'number' && Number.isInteger(sn)) return `${prefix}:${sid}:${sn}:${ts ?? ''}`;
  // Request-mode data without sn has no identity: two identical v1 reports may both be real.
  if (mode === 'request' || ts === undefined) return undefined;
  const canonical = JSON.stringify(Object.entries(payload).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `${prefix}:h:${createHash('sha256').update(canonical).digest('base64url').slice(0, 32)}`;
}
