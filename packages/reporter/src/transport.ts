/** HTTP delivery: one POST per batch, the retry policy, and the page-unload path (sendBeacon). */

/** What one POST came back with. */
export interface SendResult {
  /** 0 for a network error (or a CORS-blocked reply). */
  status: number;
  /** Indexes (into the batch) the server refused as invalid; they will never be accepted. */
  rejected: number[];
  /** From Retry-After, when the server sent one. */
  retryAfterMs?: number;
}

/** Browsers refuse keepalive/beacon bodies past 64 KiB in flight; stay under it per request. */
export const UNLOAD_CHUNK_BYTES = 60_000;

const utf8 = new TextEncoder();

/** Request init for a batch: text/plain JSON (no CORS preflight) unless custom headers are given. */
function init(body: string, headers: Record<string, string> | undefined, keepalive: boolean): RequestInit {
  return {
    method: 'POST',
    body,
    keepalive,
    credentials: 'omit',
    headers: headers
      ? { 'Content-Type': 'application/json', ...headers }
      : { 'Content-Type': 'text/plain;charset=UTF-8' },
  };
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** POSTs one batch; never throws. */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string> | undefined,
  keepalive = false,
): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetch(url, init(body, headers, keepalive));
  } catch {
    return { status: 0, rejected: [] };
  }
  const result: SendResult = { status: res.status, rejected: [] };
  const ra = parseRetryAfter(res.headers.get('retry-after'));
  if (ra !== undefined) result.retryAfterMs = ra;
  try {
    const json = (await res.json()) as { rejected?: { index?: unknown }[] };
    if (res.ok && Array.isArray(json?.rejected)) {
      for (const r of json.rejected) if (typeof r?.index === 'number') result.rejected.push(r.index);
    }
  } catch {
    // A reply without a JSON body: the status says enough.
  }
  return result;
}

/** Network errors, 408, 429 and 5xx are worth retrying; other statuses will not change. */
export function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * Delay before retry number `attempt` (1-based): exponential from base, capped, with full
 * jitter so many players recovering from one outage do not retry in lockstep. A Retry-After
 * from the server is a lower bound.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, retryAfterMs?: number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/** Splits serialised events into JSON-array bodies of at most maxBytes each (one oversized event goes alone). */
export function chunkBodies<T>(events: readonly T[], maxBytes: number): { body: string; events: T[] }[] {
  const out: { body: string; events: T[] }[] = [];
  let parts: string[] = [];
  let batch: T[] = [];
  let size = 2;
  for (const e of events) {
    const s = JSON.stringify(e);
    const n = utf8.encode(s).length + 1;
    if (batch.length > 0 && size + n > maxBytes) {
      out.push({ body: `[${parts.join(',')}]`, events: batch });
      parts = [];
      batch = [];
      size = 2;
    }
    parts.push(s);
    batch.push(e);
    size += n;
  }
  if (batch.length > 0) out.push({ body: `[${parts.join(',')}]`, events: batch });
  return out;
}

/**
 * Hands a text/plain body to navigator.sendBeacon (no preflight; delivered even if the page
 * goes away). False when unavailable or refused (the browser's in-flight quota is 64 KiB).
 */
export function beacon(url: string, body: string): boolean {
  if (typeof navigator === 'undefined' || typeof navigator.sendBeacon !== 'function') return false;
  try {
    return navigator.sendBeacon(url, body);
  } catch {
    return false;
  }
}
