/**
 * GET /api/metrics/:experiment_id: an experiment's events sorted by (timestamp, _id), streamed
 * from the store cursor to the socket with backpressure (memory stays flat for any size),
 * as JSON, NDJSON or CSV, optionally in pages (limit + cursor) over a pinned snapshot.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { apiError } from '../errors.ts';
import { ExperimentId, type StoredEvent } from '../events/schema.ts';
import { CSV_HEADER, csvLines, ndjsonLines } from '../export/columns.ts';
import type { ReadQuery } from '../store/types.ts';
import { decodeCursor, encodeCursor, filterKey } from './cursor.ts';
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
});

interface PageState {
  count: number;
  last?: StoredEvent;
  /** More events exist after this page (only when a limit was given). */
  more: boolean;
}

/**
 * Batches from the store, cut to `limit` events; the store was asked for limit + 1 so that
 * one extra event tells whether a next page exists. Closes the store cursor when done or abandoned.
 */
async function* limited(
  it: AsyncIterator<StoredEvent[]>,
  first: IteratorResult<StoredEvent[]>,
  limit: number | undefined,
  st: PageState,
): AsyncGenerator<StoredEvent[]> {
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

async function* serialise(
  format: ReadFormat,
  experimentId: string,
  batches: AsyncIterable<StoredEvent[]>,
  st: PageState,
  nextCursor: () => string | undefined,
): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  if (format === 'json') yield `{"experiment_id":${JSON.stringify(experimentId)},"metrics":[`;
  let sep = '';
  for await (const batch of batches) {
    if (format === 'json') {
      let s = sep;
      for (let i = 0; i < batch.length; i++) s += (i === 0 ? '' : ',') + JSON.stringify(batch[i]);
      sep = ',';
      yield s;
    } else {
      yield format === 'csv' ? csvLines(batch) : ndjsonLines(batch);
    }
  }
  if (format === 'json') {
    const next = nextCursor();
    yield `],"count":${st.count}${next ? `,"next_cursor":${JSON.stringify(next)}` : ''}}`;
  }
}

/**
 * Sends a read: streamed, or for a NDJSON/CSV page held and sent whole. `source` must yield
 * up to limit + 1 events when a limit is given (the extra one says a next page exists).
 * Errors before the first byte are ordinary error replies.
 */
export async function sendEvents(
  reply: FastifyReply,
  format: ReadFormat,
  source: AsyncIterable<StoredEvent[]>,
  opts: { experimentId: string; limit?: number; cursorAfter: (last: StoredEvent) => string },
): Promise<FastifyReply> {
  const { experimentId, limit } = opts;
  const it = source[Symbol.asyncIterator]();
  // Read the first batch before any byte is sent, so a store that is down is a clean 503.
  const first = await it.next();
  const st: PageState = { count: 0, more: false };
  const nextCursor = () => (st.more && st.last ? opts.cursorAfter(st.last) : undefined);
  const batches = limited(it, first, limit, st);
  reply.type(CONTENT_TYPES[format]);
  if (limit !== undefined && format !== 'json') {
    // Headers go before the body, so a page's next cursor must be known first: hold the page
    // (at most MAX_LIMIT events) and send it whole.
    let body = '';
    for await (const chunk of serialise(format, experimentId, batches, st, nextCursor)) body += chunk;
    const next = nextCursor();
    if (next) reply.header('x-next-cursor', next);
    return reply.send(body);
  }
  // A mid-stream error makes Fastify destroy the socket: the client sees a broken response,
  // never a 200 with a short but valid-looking body.
  return reply.send(
    Readable.from(serialise(format, experimentId, batches, st, nextCursor), { highWaterMark: 2 }),
  );
}

async function* nothing(): AsyncGenerator<StoredEvent[]> {}

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
      let mark: string | null;
      let after: ReadQuery['after'];
      if (q.cursor !== undefined) {
        const c = decodeCursor(q.cursor);
        if (c.filters !== filters) {
          throw apiError(
            'INVALID_CURSOR',
            "This cursor was made for other filters: repeat the first request's filters",
            {
              details: [{ path: 'querystring.cursor', message: 'filters differ from the first page' }],
            },
          );
        }
        mark = c.mark;
        after = { timestamp: c.timestamp, id: c.id };
      } else {
        mark = await app.store.readMark(experiment_id);
      }
      const limit = q.limit;
      // No mark: nothing was stored when the read began, so the snapshot is empty.
      const source =
        mark === null
          ? nothing()
          : app.store.readEvents({
              experimentId: experiment_id,
              ...f,
              after,
              mark,
              limit: limit === undefined ? undefined : limit + 1,
            });
      return sendEvents(reply, format, source, {
        experimentId: experiment_id,
        limit,
        cursorAfter: (last) => encodeCursor({ timestamp: last.timestamp, id: last._id, mark, filters }),
      });
    },
  );
};

export default metricsRoutes;
