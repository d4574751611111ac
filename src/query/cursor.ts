/**
 * Paging cursors for GET /api/metrics: opaque to clients, base64url JSON inside. A cursor
 * holds the last (timestamp, _id) returned, the store's read mark taken on the first page
 * (so every page reads the same snapshot of the experiment), and a hash of the filters it was
 * made for (a cursor used with other filters is refused rather than silently mixing reads). A
 * hash, not the filters: a 2,048-character session filter must still give a cursor short
 * enough to pass back.
 */
import { createHash } from 'node:crypto';
import { apiError } from '../errors.ts';

export interface PageCursor {
  /** Position: resume strictly after this (timestamp, _id). */
  timestamp: number;
  id: string;
  /** The store's read mark from the first page (string; null when the store was empty). */
  mark: string | null;
  /** The filters of the read, as filterKey() hashed them. */
  filters: string;
}

/** A short stable digest of the filters a paged read uses (22 characters). */
export function filterKey(f: {
  eventType?: string;
  startTime?: number;
  endTime?: number;
  session?: string;
}): string {
  const text = JSON.stringify([
    f.eventType ?? null,
    f.startTime ?? null,
    f.endTime ?? null,
    f.session ?? null,
  ]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** JSON has no Infinity (it would become null): older data may hold it, so name it. */
const INFINITE: Record<string, number> = {
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

export function encodeCursor(c: PageCursor): string {
  const ts = Number.isFinite(c.timestamp) ? c.timestamp : String(c.timestamp);
  return Buffer.from(JSON.stringify([1, ts, c.id, c.mark, c.filters])).toString('base64url');
}

export function decodeCursor(raw: string): PageCursor {
  const bad = () =>
    apiError('INVALID_CURSOR', undefined, {
      details: [{ path: 'querystring.cursor', message: 'not a cursor this server made' }],
    });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(v) ||
    v.length !== 5 ||
    v[0] !== 1 ||
    !(
      (typeof v[1] === 'number' && Number.isFinite(v[1])) ||
      (typeof v[1] === 'string' && Object.hasOwn(INFINITE, v[1]))
    ) ||
    typeof v[2] !== 'string' ||
    v[2].length > 64 ||
    !(v[3] === null || (typeof v[3] === 'string' && v[3].length <= 64)) ||
    typeof v[4] !== 'string' ||
    v[4].length > 64
  ) {
    throw bad();
  }
  return {
    timestamp: typeof v[1] === 'string' ? (INFINITE[v[1]] as number) : v[1],
    id: v[2],
    mark: v[3],
    filters: v[4],
  };
}

/**
 * Where a read starts: from a cursor (checked against the request's filters), or at the
 * beginning of a new snapshot, whose mark `readMark` takes.
 */
export async function startOfRead(
  cursor: string | undefined,
  filters: string,
  readMark: () => Promise<string | null>,
): Promise<{ mark: string | null; after?: { timestamp: number; id: string } }> {
  if (cursor === undefined) return { mark: await readMark() };
  const c = decodeCursor(cursor);
  if (c.filters !== filters) {
    throw apiError(
      'INVALID_CURSOR',
      "This cursor was made for other filters: repeat the first request's filters",
      {
        details: [{ path: 'querystring.cursor', message: 'filters differ from the first page' }],
      },
    );
  }
  return { mark: c.mark, after: { timestamp: c.timestamp, id: c.id } };
}
