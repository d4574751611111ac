/**
 * How numbers are shown. The browser tests format the API's numbers with these same functions
 * and compare them with the page, so one place decides rounding and units.
 */

export const DASH = '—';

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Seconds with 2 decimals: 1.234 -> "1.23 s". */
export function seconds(v: number | null | undefined): string {
  return num(v) ? `${v.toFixed(2)} s` : DASH;
}

/** A ratio as a percentage: 0.01234 -> "1.23 %". */
export function percent(v: number | null | undefined): string {
  return num(v) ? `${(v * 100).toFixed(2)} %` : DASH;
}

/** Bits per second in Mbit/s: 2500000 -> "2.50 Mbps". */
export function mbps(v: number | null | undefined): string {
  return num(v) ? `${(v / 1e6).toFixed(2)} Mbps` : DASH;
}

/** A count: 3 -> "3"; fractional means (of counts) keep one decimal. */
export function count(v: number | null | undefined): string {
  if (!num(v)) return DASH;
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1);
}

export function yesNo(v: boolean | null | undefined): string {
  return v === true ? 'yes' : v === false ? 'no' : DASH;
}

export type Zone = 'local' | 'utc';

const ZONE_KEY = 'stats-server.zone';
let zone: Zone = 'local';
try {
  if (typeof localStorage !== 'undefined' && localStorage.getItem(ZONE_KEY) === 'utc') zone = 'utc';
} catch {
  // storage blocked: local time
}

export function timeZone(): Zone {
  return zone;
}

/** Shows times in UTC or local time from now on, remembered in this browser. */
export function setTimeZone(z: Zone): void {
  zone = z;
  try {
    localStorage.setItem(ZONE_KEY, z);
  } catch {
    // not remembered
  }
}

/** The zone suffix of a time: "UTC", or the local offset as "UTC+01:00" (at that instant). */
export function zoneLabel(d: Date, z: Zone = zone): string {
  if (z === 'utc') return 'UTC';
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(n).padStart(2, '0');
  return `UTC${off < 0 ? '-' : '+'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

/**
 * A Unix-seconds timestamp as date and time with its zone, in the chosen zone, e.g.
 * "2026-11-25 07:34:21 UTC" or "2026-11-25 08:34:21 UTC+01:00".
 */
export function dateTime(ts: number | null | undefined, z: Zone = zone, withZone = true): string {
  if (!num(ts)) return DASH;
  const d = new Date(ts * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const u = z === 'utc';
  const date = `${u ? d.getUTCFullYear() : d.getFullYear()}-${p((u ? d.getUTCMonth() : d.getMonth()) + 1)}-${p(u ? d.getUTCDate() : d.getDate())}`;
  const time = `${p(u ? d.getUTCHours() : d.getHours())}:${p(u ? d.getUTCMinutes() : d.getMinutes())}:${p(u ? d.getUTCSeconds() : d.getSeconds())}`;
  return withZone ? `${date} ${time} ${zoneLabel(d, z)}` : `${date} ${time}`;
}

/** A time of day with its zone, 24-hour: "07:34:21 UTC" or "08:34:21 UTC+01:00". */
export function clock(ts: number | null | undefined, z: Zone = zone): string {
  if (!num(ts)) return DASH;
  return dateTime(ts, z).slice(11);
}

/** A session as a run of its experiment: "run 2 (07:34:21 UTC)" (numbered by first event). */
export function runLabel(run: number, startedUnixS: number | null | undefined, z: Zone = zone): string {
  return num(startedUnixS) ? `run ${run} (${clock(startedUnixS, z)})` : `run ${run}`;
}

/** A duration in seconds, human sized: 42 -> "42 s", 754 -> "12 min 34 s", 7300 -> "2 h 1 min". */
export function span(s: number | null | undefined): string {
  if (!num(s)) return DASH;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) {
    const whole = Math.round(s);
    return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  }
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The formatter for each QoE metric (by SessionQoe / aggregate key). */
export const METRIC_FORMAT: Record<string, (v: number | null | undefined) => string> = {
  startup_time_s: seconds,
  stall_count: count,
  stall_time_s: seconds,
  rebuffering_ratio: percent,
  avg_bitrate_bps: mbps,
  switch_count: count,
  latency_avg_s: seconds,
  latency_p95_s: seconds,
  dropped_frames: count,
  played_time_s: seconds,
};
