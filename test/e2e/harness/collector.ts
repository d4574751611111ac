/**
 * A tiny collector standing in for /api/submit/batch, for testing the reporter's delivery
 * logic in the browser: it answers from a plan (503/429 with Retry-After, a dropped
 * connection, 400, 413, success with rejected indexes), records every request, and keeps
 * the events it accepted, deduplicated on event_id like the real server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Answer =
  | { status: 200; rejected?: number[] }
  | { status: 400 | 413 | 429 | 500 | 503; retryAfter?: string }
  | { drop: true };

export interface CollectedRequest {
  method: string;
  contentType: string | undefined;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  events: Record<string, unknown>[];
  at: number;
  /** How it was answered (POSTs). */
  answer?: Answer;
}

export interface Collector {
  url: string;
  /** Answers for the next POSTs, in order; then 200. */
  plan(...answers: Answer[]): void;
  /** Answer every POST like this until reset. */
  always(answer: Answer | undefined): void;
  requests: CollectedRequest[];
  /** Accepted events by event_id (each stored once). */
  stored: Map<string, Record<string, unknown>>;
  /** Forgets plans, requests and events. */
  reset(): void;
  close(): Promise<void>;
}

export async function startCollector(): Promise<Collector> {
  let planned: Answer[] = [];
  let fixed: Answer | undefined;
  const requests: CollectedRequest[] = [];
  const stored = new Map<string, Record<string, unknown>>();
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'Retry-After',
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let events: Record<string, unknown>[] = [];
      try {
        const parsed = body.length > 0 ? JSON.parse(body.toString('utf8')) : [];
        events = Array.isArray(parsed) ? parsed : [];
      } catch {
        events = [];
      }
      requests.push({
        method: req.method ?? '',
        contentType: req.headers['content-type'],
        headers: req.headers,
        bytes: body.length,
        events,
        at: Date.now(),
      });
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          ...cors,
          'access-control-allow-methods': 'POST',
          'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? ''),
        });
        res.end();
        return;
      }
      const answer: Answer = planned.shift() ?? fixed ?? { status: 200 };
      requests[requests.length - 1]!.answer = answer;
      if ('drop' in answer) {
        req.socket.destroy();
        return;
      }
      if (answer.status !== 200) {
        res.writeHead(answer.status, {
          ...cors,
          'content-type': 'application/json',
          ...(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}),
        });
        res.end(JSON.stringify({ status: 'error', code: 'TEST', message: `planned ${answer.status}` }));
        return;
      }
      const bad = new Set(answer.rejected ?? []);
      let duplicates = 0;
      events.forEach((e, i) => {
        if (bad.has(i)) return;
        const id = String(e.event_id);
        if (stored.has(id)) duplicates += 1;
        else stored.set(id, e);
      });
      res.writeHead(200, { ...cors, 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          stored: events.length - bad.size - duplicates,
          duplicates,
          rejected: [...bad].map((index) => ({
            index,
            code: 'VALIDATION_FAILED',
            message: 'planned rejection',
          })),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    plan: (...a) => {
      planned.push(...a);
    },
    always: (a) => {
      fixed = a;
    },
    requests,
    stored,
    reset() {
      planned = [];
      fixed = undefined;
      requests.length = 0;
      stored.clear();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
