/**
 * Fair sharing between clients: no one client may hold more than its share of connections
 * (HTTP_MAX_CONNECTIONS_PER_CLIENT) or of requests being served at once
 * (HTTP_MAX_IN_FLIGHT_PER_CLIENT), so that one client holding hundreds of idle sockets or
 * requests cannot starve health checks and other players (audit 2026-12-05, N3).
 *
 * A client is the socket's remote address, or behind the proxies TRUST_PROXY names, the
 * address they forward (the same rule as Fastify's request.ip). The proxies' own connections
 * are not capped. Probes and /api/health are never counted against the in-flight cap.
 *
 * Both run in front of Fastify, on the server's own 'connection' and 'request' events, so the
 * ingest hot path pays one Map update per request and no hook. Values: docs/security.md.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import { apiError } from '../errors.ts';

type Trust = (addr: string, hop: number) => boolean;

/** How long a refused connection is read after its reply was sent (see refuseConnection). */
const REFUSED_LINGER_MS = 100;

/** Seconds a refused client should wait. */
const RETRY_AFTER_S = 1;

const UNCOUNTED = ['/api/health', '/livez', '/readyz'];

function uncounted(url: string | undefined): boolean {
  if (url === undefined) return false;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return UNCOUNTED.includes(path);
}

/** proxy-addr's trust function for TRUST_PROXY, or undefined when no proxy is trusted. */
export function trustOf(t: Config['security']['trustProxy']): Trust | undefined {
  if (Array.isArray(t)) return t.length > 0 ? proxyAddr.compile(t) : undefined;
  if (typeof t === 'number') return t > 0 ? (_addr, hop) => hop < t : undefined;
  return undefined;
}

/** The body of a refusal, in the documented error shape. */
function refusal(message: string): string {
  const err = apiError('CLIENT_BUSY', message);
  return JSON.stringify({ status: 'error', code: err.code, message: err.message });
}

class Counter {
  readonly #n = new Map<string, number>();
  /** Counts one more for `key` unless it is at `max` already. */
  take(key: string, max: number): boolean {
    const n = this.#n.get(key) ?? 0;
    if (n >= max) return false;
    this.#n.set(key, n + 1);
    return true;
  }
  give(key: string): void {
    const n = (this.#n.get(key) ?? 1) - 1;
    if (n <= 0) this.#n.delete(key);
    else this.#n.set(key, n);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: Node's listeners are untyped.
type Listener = (this: Server, ...args: any[]) => void;

/**
 * Replaces the server's only listener for `event` (Node's connection handler, Fastify's
 * request handler) with `wrap(listener)`, which decides whether to pass each call on.
 */
function wrapListener(
  server: Server,
  event: 'connection' | 'request',
  wrap: (l: Listener) => Listener,
): void {
  const [listener, ...others] = server.listeners(event) as Listener[];
  if (!listener || others.length > 0) throw new Error(`fair-share: expected one '${event}' listener`);
  server.removeListener(event, listener);
  server.on(event, wrap(listener));
}

/** Installs the per-client caps on the app's server (call before other 'request' listeners). */
export function registerFairShare(app: FastifyInstance, config: Readonly<Config>): void {
  const { maxConnectionsPerClient: maxConns, maxInFlightPerClient: maxInFlight } = config.http;
  const trust = trustOf(config.security.trustProxy);
  const server = app.server as Server;
  const cors = config.corsOrigins === '*' ? '*' : undefined;

  if (maxConns > 0) {
    const open = new Counter();
    wrapListener(
      server,
      'connection',
      (listener) =>
        function onConnection(this: Server, socket: Socket) {
          const addr = socket.remoteAddress;
          if (addr === undefined || trust?.(addr, 0)) return listener.call(this, socket);
          if (!open.take(addr, maxConns)) return refuseConnection(socket, maxConns);
          socket.once('close', () => open.give(addr));
          return listener.call(this, socket);
        },
    );
  }

  if (maxInFlight > 0) {
    const busy = new Counter();
    wrapListener(
      server,
      'request',
      (listener) =>
        function onRequest(this: Server, req: IncomingMessage, res: ServerResponse) {
          if (uncounted(req.url)) return listener.call(this, req, res);
          const client = trust ? proxyAddr(req, trust) : (req.socket.remoteAddress ?? '');
          if (!busy.take(client, maxInFlight)) {
            const body = refusal(
              `This client (${client}) already has ${maxInFlight} requests in progress (HTTP_MAX_IN_FLIGHT_PER_CLIENT); wait for one to finish`,
            );
            res.writeHead(429, {
              'content-type': 'application/json; charset=utf-8',
              'content-length': Buffer.byteLength(body),
              'retry-after': String(RETRY_AFTER_S),
              ...(cors ? { 'access-control-allow-origin': cors } : {}),
            });
            res.end(body);
            return;
          }
          res.once('close', () => busy.give(client));
          return listener.call(this, req, res);
        },
    );
  }
}

/**
 * Answers a connection over the client's share with a 429 and closes it. The request the
 * client may already be sending is read (and dropped) for a moment so that the close does not
 * turn into a reset before the reply is read; not longer, since a refused socket still takes a
 * slot of HTTP_MAX_CONNECTIONS while it is open.
 */
function refuseConnection(socket: Socket, max: number): void {
  const body = refusal(
    `This client already has ${max} connections open (HTTP_MAX_CONNECTIONS_PER_CLIENT); reuse them or close some`,
  );
  socket.on('error', () => {});
  socket.resume();
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Retry-After: ${RETRY_AFTER_S}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref(),
  );
}
