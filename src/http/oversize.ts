/**
 * A 413 the client can read (audit 2026-12-05, N6). Fastify answers an oversized body as soon
 * as it knows (Content-Length over the limit, or the limit passed mid-stream) and marks the
 * connection to close; Node then closed the socket while the client was still sending, and the
 * client got EPIPE or a reset instead of the reply, so players retried the same batch forever.
 * Well-behaved servers read and discard the rest of the body first: so do we, up to
 * HTTP_DISCARD_MAX_BYTES, then keep the connection (the body ended) or close it (past the
 * bound). The idle timeout and the body-rate floor still bound how long this may take.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Requests whose body is being discarded after their 413 (the rate floor leaves them alone). */
export const discarding = new WeakSet<IncomingMessage>();

/** Reads and drops what is left of the request's body, at most maxBytes, then closes. */
export function discardRest(request: FastifyRequest, reply: FastifyReply, maxBytes: number): void {
  const raw = request.raw;
  if (raw.complete || raw.destroyed || discarding.has(raw)) return;
  discarding.add(raw);
  let dropped = 0;
  const onData = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > maxBytes) {
      raw.removeListener('data', onData);
      raw.socket.destroy();
    }
  };
  raw.on('data', onData);
  raw.resume();
  if (maxBytes > 0) {
    // Fastify's `Connection: close` would close the socket right after the reply; once the
    // body has ended the connection is as good as any other.
    reply.removeHeader('connection');
  }
}

/** The limit that applied to this request's body, for the 413's message. */
export function bodyLimitOf(request: FastifyRequest): number | undefined {
  return request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit;
}
