/**
 * Slow clients and connection limits. Fastify turns Node's request timeout off by default and
 * sets no connection cap, so one client trickling a body, or never reading a large export,
 * could hold a connection (and its buffers) forever, and enough of them exhaust file
 * descriptors. Here: the server options (request, header, keep-alive and idle timeouts), the
 * connection cap, a floor on body upload rate, and a shutdown that cannot hang on a stalled
 * upload. Values and defaults: docs/security.md.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import { clientErrorHandler, frameworkErrors } from './error-handler.ts';
import { discarding } from './oversize.ts';

/** Longest path parameter: a 128-character experiment id with every character %-escaped. */
export const MAX_PARAM_LENGTH = 3 * 128;

/** The Fastify options that bound how long a client may take. */
export function serverOptions(config: Readonly<Config>): Partial<FastifyHttpOptions<Server>> {
  const h = config.http;
  return {
    requestTimeout: h.requestTimeoutMs,
    keepAliveTimeout: h.keepAliveTimeoutMs,
    // Socket inactivity (server.setTimeout): cuts stalled uploads and readers that stopped
    // reading a streamed response, whose writes then make no progress.
    connectionTimeout: h.idleTimeoutMs,
    http: {
      headersTimeout: h.headersTimeoutMs,
      // Node checks request and header deadlines on this interval (default 30 s, far coarser
      // than the deadlines themselves).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(h.headersTimeoutMs / 4))),
    },
    clientErrorHandler,
    frameworkErrors,
  };
}

interface Upload {
  start: number;
  bytesAtStart: number;
}

/**
 * Caps connections and enforces the body-rate floor. Only bodies larger than what the floor
 * allows within the grace period are watched (a one-event submit never is: no allocation on
 * the hot path); smaller ones are bounded by the request timeout.
 */
export function registerLimits(app: FastifyInstance, config: Readonly<Config>): void {
  const { maxConnections, bodyMinBytesPerSec: floor, bodyGraceMs: grace } = config.http;
  app.server.maxConnections = maxConnections;

  // The idle timeout is for clients: a stalled upload, a reader that stopped reading, an idle
  // connection. A response the server is still computing (request received, nothing sent
  // yet; a large QoE read) is not the client's fault: leave that socket alone. With a
  // listener here Node no longer destroys timed-out sockets itself, so every other case does.
  app.server.on('timeout', (socket: Socket) => {
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (res && !res.headersSent && res.req?.complete && !res.writableEnded) return;
    socket.destroy();
  });

  if (floor === 0) return;

  const watchAbove = Math.floor((floor * grace) / 1000);
  const uploads = new Map<IncomingMessage, Upload>();
  let timer: NodeJS.Timeout | undefined;

  const sweep = () => {
    const now = Date.now();
    for (const [req, u] of uploads) {
      // A body dropped after its 413 is bounded by HTTP_DISCARD_MAX_BYTES and the idle timeout;
      // a 408 written after the 413 would be read as the reply to a next request.
      if (req.complete || req.destroyed || discarding.has(req)) {
        uploads.delete(req);
        continue;
      }
      const elapsed = now - u.start;
      if (elapsed < grace) continue;
      const received = req.socket.bytesRead - u.bytesAtStart;
      if ((received * 1000) / elapsed >= floor) continue;
      uploads.delete(req);
      app.log.info({ received, elapsedMs: elapsed }, 'body upload below the rate floor; closing');
      // The response has not started (the body is still arriving): answer 408 on the socket.
      const err = Object.assign(new Error('body upload too slow'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      clientErrorHandler(err, req.socket);
    }
    if (uploads.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  // A plain 'request' listener on the server rather than a Fastify hook: a route with no
  // onRequest hooks skips Fastify's hook runner, so the ingest hot path stays as it was.
  app.server.on('request', (raw: IncomingMessage) => {
    const len = raw.headers['content-length'];
    const big = len === undefined ? raw.headers['transfer-encoding'] !== undefined : Number(len) > watchAbove;
    if (!big || raw.complete) return;
    uploads.set(raw, { start: Date.now(), bytesAtStart: raw.socket.bytesRead });
    if (!timer) {
      timer = setInterval(sweep, Math.max(50, Math.min(1000, Math.floor(grace / 4) || 50)));
      timer.unref();
    }
  });
  app.addHook('onClose', (_app, done) => {
    if (timer) clearInterval(timer);
    uploads.clear();
    done();
  });
}

/**
 * Arms a streamed response's socket so that a reader that stopped reading is cut after the
 * idle timeout, not twice that (N14: 60-70 s where 30 s is documented). Node lets one timeout
 * pass when the socket's write queue changed since its last write (net.Socket#_onTimeout), which
 * is always the case once a stalled reader has made the queue fill: so while the response
 * streams, the socket's timer runs at half the idle time, and the second expiry, one idle time
 * after the last progress, is the one that fires. Restored once the response has finished.
 */
export function armStreamIdleTimeout(res: ServerResponse, idleMs: number): void {
  const socket = res.socket;
  // app.inject()'s socket is not a net.Socket and has no timer.
  if (!socket || idleMs <= 0 || typeof socket.setTimeout !== 'function') return;
  socket.setTimeout(Math.max(1, Math.ceil(idleMs / 2)));
  res.once('finish', () => {
    if (!socket.destroyed) socket.setTimeout(idleMs);
  });
}

/**
 * Closes the app: stop accepting, let in-flight requests finish for up to graceMs, then destroy
 * every connection still open (a stalled upload must not hold the shutdown), and close the stores.
 */
export async function closeWithin(app: FastifyInstance, graceMs: number): Promise<void> {
  const server = app.server as Server;
  const t = setTimeout(() => {
    app.log.warn({ graceMs }, 'shutdown grace over: closing connections still mid-request');
    server.closeAllConnections();
  }, graceMs);
  t.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(t);
  }
}
