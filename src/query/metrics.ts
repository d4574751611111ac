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
import type { JsonEvent, ReadQuery } from '../store/types.ts';
import { encodeCursor, filterKey, startOfRead } from './cursor.ts';
import { CONTENT_TYPES, negotiateFormat, type ReadFormat } from './format.ts';

/** Largest page a client may ask for (NDJSON/CSV pages are held in memory to set X-Next-Cursor). */
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
  last?: Keyed;
  /** More events exist after this page (only when a limit was given). */
  more: boolean;
}

/**
 * Batches from the store, cut to `limit` events; the store was asked for limit + 1 so that
 * one extra event tells whether a next page exists. Closes the store cursor when done or abandoned.
 */
async function* limited<T extends Keyed>(
  it: AsyncIterator<T[]>,
  first: IteratorResult<T[]>,
  limit: number | undefined,
  st: PageState,
): AsyncGenerator<T[]> {
  try {
    for (let r = first; !r.done; r = await it.next()) {
      let batch = r.value;
      if (limit !== undefined && st.count + batch.length > limit) {
        batch = batch.slice(0, limit - st.count);
        st.more = true;
      }
      if (batch.length > 0) {
        st.count += batch.length;
        st.last = batch[batch.length - 1];
        yield batch;
      }
      if (st.more) return;
    }
  } finally {
    await it.return?.();
  }
}

/** How one format frames a read: what comes first, each batch, and what comes last. */
interface Framing<T> {
  head: string;
  batch: (events: T[], first: boolean) => string;
  tail: (count: number, next: string | undefined) => string;
}

function jsonFraming(experimentId: string): Framing<JsonEvent> {
  return {
    head: `{"experiment_id":${JSON.stringify(experimentId)},"metrics":[`,
    batch: (events, first) => (first ? '' : ',') + events.map((e) => e.json).join(','),
    // count and next_cursor come last: they are known only once the stream has ended.
    tail: (count, next) => `],"count":${count}${next ? `,"next_cursor":${JSON.stringify(next)}` : ''}}`,
  };
}

const ndjsonFraming: Framing<JsonEvent> = {
  head: '',
  batch: (events) => {
    let s = '';
    for (const e of events) s += ndjsonLine(e.json);
    return s;
  },
  tail: () => '',
};

const csvFraming = (raw: boolean): Framing<StoredEvent> => ({
  head: CSV_HEADER,
  batch: (events) => csvLines(events, { raw }),
  tail: () => '',
});

async function* frame<T>(
  f: Framing<T>,
  batches: AsyncIterable<T[]>,
  st: PageState,
  nextCursor: () => string | undefined,
): AsyncGenerator<string> {
  if (f.head) yield f.head;
  let first = true;
  for await (const batch of batches) {
    yield f.batch(batch, first);
    first = false;
  }
  const tail = f.tail(st.count, nextCursor());
  if (tail) yield tail;
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
  opts: { limit?: number; cursorAfter: (last: Keyed) => string },
): Promise<FastifyReply> {
  const { limit } = opts;
  const it = source[Symbol.asyncIterator]();
  // Read the first batch before any byte is sent, so a store that is down is a clean 503.
  const first = await it.next();
  const st: PageState = { count: 0, more: false };
  const nextCursor = () => (st.more && st.last ? opts.cursorAfter(st.last) : undefined);
  const body = frame(framing, limited(it, first, limit, st), st, nextCursor);
  reply.type(CONTENT_TYPES[format]);
  const vary = reply.getHeader('vary');
  reply.header('vary', vary ? `${vary}, Accept` : 'Accept');
  if (limit !== undefined && format !== 'json') {
    // Headers go before the body, so a page's next cursor must be known first: hold the page
    // (at most MAX_LIMIT events) and send it whole.
    let text = '';
    for await (const chunk of body) text += chunk;
    const next = nextCursor();
    if (next) reply.header('x-next-cursor', next);
    return reply.send(text);
  }
  // A mid-stream error makes Fastify destroy the socket: the client sees a broken response,
  // never a 200 with a short but valid-looking body.
  return reply.send(Readable.from(body, { highWaterMark: 2 }));
}

async function* nothing<T>(): AsyncGenerator<T[]> {}

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics/:experiment_id',
    {
      schema: {
        summary: "An experiment's events, sorted by timestamp ascending (streamed)",
        description:
          'JSON {"experiment_id","metrics":[...],"count","next_cursor"?} (key order: count and next_cursor come last), ' +
          'NDJSON (one event per line) or CSV (fixed columns, payload as JSON text), by format= or Accept. ' +
          'With limit, pages are read from the snapshot pinned by the first page; NDJSON/CSV pages carry X-Next-Cursor.',
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
        cursorAfter: (last: Keyed) =>
          encodeCursor({ timestamp: last.timestamp, id: last._id, mark, filters }),
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
