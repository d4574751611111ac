/**
 * Body parsers for the submit endpoints: JSON sent as application/json or text/plain (what
 * navigator.sendBeacon and no-preflight fetch send), NDJSON for batches, each optionally
 * compressed (Content-Encoding gzip, deflate or br).
 *
 * Fastify enforces the route's body limit on the bytes received; decompression is bounded by
 * the same limit (zlib's maxOutputLength), so a small "zip bomb" is a 413, never a large
 * allocation.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, apiError } from '../errors.ts';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotli = promisify(zlib.brotliDecompress);

/** One NDJSON line that did not parse; the batch route reports it as a rejected event. */
export class BadLine {
  constructor(readonly message: string) {}
}

/** An NDJSON body: one parsed value (or BadLine) per non-blank line. */
export class NdjsonBody {
  constructor(readonly items: unknown[]) {}
}

type Done = (err: Error | null, body?: unknown) => void;
type JsonParse = (req: FastifyRequest, body: Buffer, done: Done) => void;

/** The body with its Content-Encoding removed, at most `limit` bytes. */
export async function decodeBody(encoding: string | undefined, body: Buffer, limit: number): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  const opts = { maxOutputLength: limit };
  try {
    switch (enc) {
      case 'gzip':
      case 'x-gzip':
        return await gunzip(body, opts);
      case 'deflate':
        // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate: accept both.
        try {
          return await inflate(body, opts);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
          return await inflateRaw(body, opts);
        }
      case 'br':
        return await brotli(body, opts);
      default:
        throw apiError(
          'UNSUPPORTED_ENCODING',
          `Content-Encoding "${enc}" is not supported; send gzip, deflate or br`,
        );
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw apiError('BODY_TOO_LARGE', `The decompressed body is larger than ${limit} bytes`);
    }
    // Anything else the decompressor raises (zlib Z_*, brotli ERR_*_ERROR_*) is bad data.
    throw apiError('INVALID_ENCODING', `The body is not valid ${enc} data`);
  }
}

function limitOf(req: FastifyRequest): number {
  return req.routeOptions.bodyLimit ?? req.server.initialConfig.bodyLimit ?? 1024 * 1024;
}

/** Parses NDJSON: one JSON value per line; blank lines are skipped. */
export function parseNdjson(text: string, parse: (line: string) => unknown): NdjsonBody {
  const items: unknown[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      items.push(parse(line));
    } catch {
      items.push(new BadLine('This line is not valid JSON (or has a __proto__ or constructor key)'));
    }
  }
  return new NdjsonBody(items);
}

/**
 * Replaces the context's body parsers: JSON for application/json and text/plain, and NDJSON
 * when asked (batch route). Register inside the routes' own plugin so only they get them.
 */
export function registerBodyParsers(app: FastifyInstance, opts: { ndjson: boolean }): void {
  const json = app.getDefaultJsonParser('error', 'error') as unknown as JsonParse;
  app.removeAllContentTypeParsers();

  const jsonParser = (req: FastifyRequest, body: Buffer, done: Done) => {
    const enc = req.headers['content-encoding'];
    if (enc === undefined) return json(req, body, done);
    decodeBody(enc, body, limitOf(req)).then(
      (decoded) => json(req, decoded, done),
      (err) => done(err),
    );
  };
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, jsonParser);

  const accepted = ['application/json', 'text/plain'];
  if (opts.ndjson) {
    accepted.push('application/x-ndjson', 'application/ndjson', 'application/jsonl');
    // Fastify's JSON parser (with its prototype-poisoning checks) is synchronous: call it
    // per line and turn its callback back into a return value or a throw.
    const parseLine = (line: string) => {
      let result: { err: Error | null; value?: unknown } = { err: null };
      json({} as FastifyRequest, Buffer.from(line), (err, value) => {
        result = { err, value };
      });
      if (result.err) throw result.err;
      return result.value;
    };
    app.addContentTypeParser(
      ['application/x-ndjson', 'application/ndjson', 'application/jsonl'],
      { parseAs: 'buffer' },
      (req: FastifyRequest, body: Buffer, done: Done) => {
        decodeBody(req.headers['content-encoding'], body, limitOf(req)).then(
          (decoded) => done(null, parseNdjson(decoded.toString('utf8'), parseLine)),
          (err) => done(err),
        );
      },
    );
  }
  refuseOtherTypes(app, accepted);
}

/** Any other Content-Type (or none) is a 415 that lists what this route accepts. */
export function refuseOtherTypes(app: FastifyInstance, accepted: readonly string[]): void {
  app.addContentTypeParser('*', (req: FastifyRequest, _payload: unknown, done: Done) => {
    const got = req.headers['content-type'];
    done(
      apiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${got ? `Content-Type "${got.split(';')[0]}"` : 'A body without Content-Type'} is not accepted here; send ${accepted.join(', ')}`,
      ),
    );
  });
}
