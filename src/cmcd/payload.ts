/**
 * Reading the stored CMCD payload: the inverse of `flattenCmcd` (map.ts), for consumers such
 * as QoE that want one key's video value. The collector flattens inner lists
 * (`bl=(6000;v 3000;a)` -> `bl: 6000, bl_v: 6000, bl_a: 3000`); events stored before the
 * flattening keep raw inner lists (`[{value, params}]`), so both shapes are read.
 */
import { num, str } from '../events/values.ts';

type Payload = Record<string, unknown>;

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
export function cmcdStallDurations(p: Payload): number[] {
  const tagged = p.bsd_v ?? p.bsd_av;
  if (tagged !== undefined) return cmcdNumbers(tagged);
  if (Array.isArray(p.bsd_list)) return cmcdNumbers(p.bsd_list);
  if (Array.isArray(p.bsd)) return cmcdNumbers(p.bsd);
  const one = cmcdKeyValue(p, 'bsd');
  return one === null ? [] : [one];
}

/** The first error code of a CMCD `ec` list (strings, or `{value}` items). */
export function cmcdFirstErrorCode(ec: unknown): string | null {
  for (const item of Array.isArray(ec) ? ec : [ec]) {
    const v = item !== null && typeof item === 'object' ? (item as { value?: unknown }).value : item;
    const s = str(v);
    if (s) return s;
  }
  return null;
}
