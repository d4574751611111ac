/**
 * GET /api/metrics/:experiment_id: an experiment's events sorted by (timestamp, _id), streamed
 * from the store cursor to the socket with backpressure (memory stays flat for any size),
 * as JSON, NDJSON or CSV, optionally in pages (limit + cursor) over a pinned snapshot.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { ExperimentId, type StoredEvent } from '../events/schema.ts';
import { CSV_HEADER, csvLines, ndjsonLine } from '../export/columns.ts';
import { CONTENT_TYPES, negotiateFormat, type ReadFormat } from '../http/format.ts';
import { armStreamIdleTimeout } from '../http/limits.ts';
import type { JsonEvent, ReadQuery } from '../store/types.ts';
import { encodeCursor, filterKey, startOfRead } from './cursor.ts';

/**
 * Largest page a client may ask for. NDJSON/CSV pages are held in memory to set X-Next-Cursor;
 * every page also ends once it holds READ_PAGE_MAX_BYTES of events.
 */
export const MAX_LIMIT = 10_000;

export const MetricsParams = Type.Object({ experiment_id: ExperimentId });
export const MetricsQuerystring = Type.Object({
  event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  start_time: Type.Optional(Type.Number({ description: 'Inclusive lower bound (Unix seconds); 0 is valid' })),
  end_time: Type.Optional(Type.Number({ description: 'Inclusive upper bound (Unix seconds)' })),
  session_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'Only this session (session_id, else payload.session_id, else video_id)',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_LIMIT, description: 'Page size; the reply carries next_cursor' }),
  ),
  cursor: Type.Optional(
    Type.String({ minLength: 1, maxLength: 1024, description: 'next_cursor from the previous page' }),
  ),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('ndjson'), Type.Literal('csv')])),
  csv: Type.Optional(
    Type.Literal('raw', {
      description:
        "CSV cells exactly as stored. By default a text cell starting with = + - @ tab or CR gets a leading ' " +
        'so that spreadsheets do not run it as a formula (numbers are never changed)',
    }),
  ),
});

/** What paging needs of an event: its sort key. */
type Keyed = { _id: string; timestamp: number };

interface PageState {
  count: number;
  /** Characters of event text in this page so far. */
  bytes: number;
  last?: Keyed;
  /** More events exist after this page (only when a limit was given). */
  more: boolean;
}

/** How one format frames a read: what comes first, each event, and what comes last. */
interface Framing<T> {
  head: string;
  event: (e: T, first: boolean) => string;
  tail: (count: number, next: string | undefined) => string;
}

function jsonFraming(experimentId: string): Framing<JsonEvent> {
  return {
    head: `{"experiment_id":${JSON.stringify(experimentId)},"metrics":[`,
    event: (e, first) => (first ? e.json : `,${e.json}`),
    // count and next_cursor come last: they are known only once the stream has ended.
    tail: (count, next) => `],"count":${count}${next ? `,"next_cursor":${JSON.stringify(next)}` : ''}}`,
  };
}

const ndjsonFraming: Framing<JsonEvent> = {
  head: '',
  event: (e) => ndjsonLine(e.json),
  tail: () => '',
};

const csvFraming = (raw: boolean): Framing<StoredEvent> => ({
  head: CSV_HEADER,
  event: (e) => csvLines([e], { raw }),
  tail: () => '',
});

/** Text is handed to the socket in chunks of about this many characters (or one larger event). */
const CHUNK_CHARS = 64 * 1024;

/**
 * The framed text of a read, in bounded chunks (never a whole batch as one string: a few fat
 * events would exceed V8's string limit). With a limit, the page ends after `limit` events or
 * once it holds `maxBytes` of event text, whichever comes first; the store was asked for
 * limit + 1 events so that meeting one more says a next page exists. Closes the store cursor
 * when done or abandoned.
 */
async function* page<T extends Keyed>(
  f: Framing<T>,
  it: AsyncIterator<T[]>,
  first: IteratorResult<T[]>,
  opts: { limit?: number; maxBytes: number },
  st: PageState,
  nextCursor: () => string | undefined,
): AsyncGenerator<string> {
  const { limit, maxBytes } = opts;
  let chunk = f.head;
  try {
    read: for (let r = first; !r.done; r = await it.next()) {
      for (const e of r.value) {
        if (limit !== undefined && (st.count >= limit || (st.count > 0 && st.bytes >= maxBytes))) {
          st.more = true;
          break read;
        }
        const text = f.event(e, st.count === 0);
        st.count++;
        st.bytes += text.length;
        st.last = e;
        chunk += text;
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
    }
  } finally {
    await it.return?.();
  }
  chunk += f.tail(st.count, nextCursor());
  if (chunk) yield chunk;
}

/**
 * Sends a read: streamed, or for a NDJSON/CSV page held and sent whole. `source` must yield
 * up to limit + 1 events when a limit is given (the extra one says a next page exists).
 * Errors before the first byte are ordinary error replies.
 */
export async function sendEvents<T extends Keyed>(
  reply: FastifyReply,
  format: ReadFormat,
  framing: Framing<T>,
  source: AsyncIterable<T[]>,
  opts: { limit?: number; maxBytes: number; cursorAfter: (last: Keyed) => string },
): Promise<FastifyReply> {
  const { limit } = opts;
  const it = source[Symbol.asyncIterator]();
  // Read the first batch before any byte is sent, so a store that is down is a clean 503.
  const first = await it.next();
  const st: PageState = { count: 0, bytes: 0, more: false };
  const nextCursor = () => (st.more && st.last ? opts.cursorAfter(st.last) : undefined);
  const body = page(framing, it, first, opts, st, nextCursor);
  reply.type(CONTENT_TYPES[format]);
  const vary = reply.getHeader('vary');
  reply.header('vary', vary ? `${vary}, Accept` : 'Accept');
  if (limit !== undefined && format !== 'json') {
    // Headers go before the body, so a page's next cursor must be known first: hold the page
    // (at most maxBytes plus one event) and send it whole.
    const chunks: string[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const next = nextCursor();
    if (next) reply.header('x-next-cursor', next);
    return reply.send(chunks.join(''));
  }
  armStreamIdleTimeout(reply.raw, reply.server.config.http.idleTimeoutMs);
  // A mid-stream error makes Fastify destroy the socket: the client sees a broken response,
  // never a 200 with a short but valid-looking body.
  return reply.send(Readable.from(body, { highWaterMark: 2 }));
}

async function* nothing<T>(): AsyncGenerator<T[]> {}

/**
 * Where a cursor resumes after an event. Older versions stored non-finite timestamps
 * (SQLite keeps +-Infinity, which cursors carry); a null timestamp (MongoDB) sorts before
 * every number, so the read resumes as after -Infinity (further null-timestamp events on the
 * same page boundary are skipped rather than breaking the read).
 */
const resumeTimestamp = (ts: unknown): number =>
  typeof ts === 'number' && !Number.isNaN(ts) ? ts : -Infinity;

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics/:experiment_id',
    {
      schema: {
        summary: "An experiment's events, sorted by timestamp ascending (streamed)",
        description:
          'JSON {"experiment_id","metrics":[...],"count","next_cursor"?} (key order: count and next_cursor come last), ' +
          'NDJSON (one event per line) or CSV (fixed columns, payload as JSON text), by format= or Accept. ' +
          'With limit, pages are read from the snapshot pinned by the first page; NDJSON/CSV pages carry X-Next-Cursor. ' +
          'A page may hold fewer than limit events (it also ends once it holds READ_PAGE_MAX_BYTES of events): ' +
          'follow next_cursor until there is none.',
        params: MetricsParams,
        querystring: MetricsQuerystring,
      },
    },
    async (request, reply) => {
      const { experiment_id } = request.params;
      const q = request.query;
      const format = negotiateFormat(q.format, request.headers.accept);
      const f = {
        eventType: q.event_type,
        startTime: q.start_time,
        endTime: q.end_time,
        session: q.session_id,
      };
      const filters = filterKey(f);
      const { mark, after } = await startOfRead(q.cursor, filters, () => app.store.readMark(experiment_id));
      const limit = q.limit;
      const read: ReadQuery = {
        experimentId: experiment_id,
        ...f,
        after,
        mark: mark ?? undefined,
        limit: limit === undefined ? undefined : limit + 1,
      };
      const opts = {
        limit,
        maxBytes: app.config.readPageMaxBytes,
        cursorAfter: (last: Keyed) =>
          encodeCursor({ timestamp: resumeTimestamp(last.timestamp), id: last._id, mark, filters }),
      };
      // No mark: nothing was stored when the read began, so the snapshot is empty.
      if (format === 'csv') {
        const source = mark === null ? nothing<StoredEvent>() : app.store.readEvents(read);
        return sendEvents(reply, format, csvFraming(q.csv === 'raw'), source, opts);
      }
      const source = mark === null ? nothing<JsonEvent>() : app.store.readEventsJson(read);
      const framing = format === 'json' ? jsonFraming(experiment_id) : ndjsonFraming;
      return sendEvents(reply, format, framing, source, opts);
    },
  );
};

export default metricsRoutes;
