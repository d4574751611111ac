/**
 * createReporter(): the event queue. Events are batched, POSTed one batch at a time, retried
 * with backoff on network errors, 429 and 5xx, and handed to sendBeacon when the page hides.
 * Every event carries an event_id, so a batch sent twice (a retry after a lost reply, or a
 * beacon racing a fetch) is stored once by the server.
 */
import { EventType } from '@stats-server/events';
import { inSample, uuid } from './ids.ts';
import { type DropReason, type ReporterEvent, type ReporterOptions, resolveOptions } from './options.ts';
import { backoffMs, beacon, chunkBodies, post, retryable, UNLOAD_CHUNK_BYTES } from './transport.ts';

/** Counters for what the reporter did, for tests and health displays. */
export interface ReporterStats {
  /** Events accepted by report() (0 when the session is not sampled). */
  reported: number;
  /** Events the server acknowledged. */
  delivered: number;
  /** Events handed to sendBeacon / keepalive on page hide (delivery not observable). */
  beaconed: number;
  /** Events given up (see onDrop). */
  dropped: number;
  /** Failed POSTs that were retried. */
  retries: number;
  /** Events waiting to be sent. */
  queued: number;
}

export interface Reporter {
  readonly sessionId: string;
  /** false when sampleRate left this session out: report() then does nothing. */
  readonly sampled: boolean;
  readonly stats: Readonly<ReporterStats>;
  /** Queues one event; payload units as in docs/events.md. Never throws, never blocks. */
  report(eventType: string, payload?: Record<string, unknown>): void;
  /** Sends everything queued now; resolves when the queue is empty or waiting to retry. */
  flush(): Promise<void>;
  /** Reports session_ended, flushes, and detaches from the page. Later report() calls are ignored. */
  destroy(): Promise<void>;
}

/** Creates a reporter; throws ReporterOptionError for a bad option. */
export function createReporter(options: ReporterOptions): Reporter {
  const o = resolveOptions(options);
  const sessionId = o.sessionId ?? uuid();
  const sampled = inSample(sessionId, o.sampleRate);
  const stats: ReporterStats = { reported: 0, delivered: 0, beaconed: 0, dropped: 0, retries: 0, queued: 0 };

  let queue: ReporterEvent[] = [];
  let inflight: ReporterEvent[] | undefined;
  /** The in-flight batch went out by beacon too: its fetch result no longer matters. */
  let inflightHandedOff = false;
  let attempt = 0;
  /** Batch size after a 413, until a send succeeds. */
  let sizeCap = o.maxEvents;
  let batchTimer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing = false;
  let ended = false;
  let destroyed = false;
  let waiters: (() => void)[] = [];

  const drop = (events: ReporterEvent[], reason: DropReason) => {
    if (events.length === 0) return;
    stats.dropped += events.length;
    try {
      o.onDrop?.(events, reason);
    } catch {
      // A throwing callback must not break delivery.
    }
  };

  const setQueue = (q: ReporterEvent[]) => {
    if (q.length > o.maxQueue) {
      drop(q.slice(0, q.length - o.maxQueue), 'queue_full');
      q = q.slice(q.length - o.maxQueue);
    }
    queue = q;
    stats.queued = queue.length;
  };

  /** Resolves flush() callers once nothing more will happen without waiting. */
  const settle = () => {
    if (inflight) return;
    if (queue.length === 0 || retryTimer !== undefined) {
      flushing = false;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };

  const schedule = () => {
    if (queue.length === 0 || retryTimer !== undefined || inflight) return;
    if (flushing || queue.length >= sizeCap) {
      void pump();
      return;
    }
    if (batchTimer !== undefined) return;
    batchTimer = setTimeout(() => {
      batchTimer = undefined;
      void pump();
    }, o.maxDelayMs);
  };

  async function pump(): Promise<void> {
    if (inflight || retryTimer !== undefined || queue.length === 0) return settle();
    if (batchTimer !== undefined) {
      clearTimeout(batchTimer);
      batchTimer = undefined;
    }
    const batch = queue.slice(0, sizeCap);
    setQueue(queue.slice(batch.length));
    inflight = batch;
    inflightHandedOff = false;
    const res = await post(o.url, JSON.stringify(batch), o.headers);
    inflight = undefined;
    if (inflightHandedOff) {
      // Already on its way by beacon; the server dedupes on event_id either way.
    } else if (res.status >= 200 && res.status < 300) {
      attempt = 0;
      sizeCap = o.maxEvents;
      const bad = new Set(res.rejected);
      drop(
        batch.filter((_, i) => bad.has(i)),
        'rejected',
      );
      stats.delivered += batch.length - bad.size;
    } else if (res.status === 413 && batch.length > 1) {
      // Too large: resend it at once in halves (flush mode ends when the queue is empty).
      sizeCap = Math.ceil(batch.length / 2);
      flushing = true;
      setQueue([...batch, ...queue]);
    } else if (retryable(res.status)) {
      attempt += 1;
      if (attempt >= o.maxAttempts) {
        attempt = 0;
        drop(batch, 'retries_exhausted');
      } else {
        stats.retries += 1;
        setQueue([...batch, ...queue]);
        retryTimer = setTimeout(
          () => {
            retryTimer = undefined;
            void pump();
          },
          backoffMs(attempt, o.baseDelayMs, o.maxBackoffMs, res.retryAfterMs),
        );
      }
    } else {
      drop(batch, 'rejected');
    }
    settle();
    schedule();
  }

  /**
   * Page is going away (or hidden): give everything unacknowledged to the browser now, by
   * sendBeacon, or fetch keepalive when custom headers are set (sendBeacon cannot send them)
   * or beacons are unavailable. What the browser refuses stays queued in case the page lives on.
   */
  const handOff = () => {
    const carry = inflight !== undefined && !inflightHandedOff ? inflight : [];
    const pending = [...carry, ...queue];
    if (pending.length === 0) return;
    const refused: ReporterEvent[] = [];
    for (const chunk of chunkBodies(pending, UNLOAD_CHUNK_BYTES)) {
      if (refused.length > 0) refused.push(...chunk.events);
      else if (!o.headers && beacon(o.url, chunk.body)) stats.beaconed += chunk.events.length;
      else if (o.headers || typeof navigator?.sendBeacon !== 'function') {
        stats.beaconed += chunk.events.length;
        void post(o.url, chunk.body, o.headers, true).then((res) => {
          if (res.status >= 200 && res.status < 300) return;
          stats.beaconed -= chunk.events.length;
          setQueue([...chunk.events, ...queue]);
          schedule();
        });
      } else refused.push(...chunk.events);
    }
    const carried = new Set(carry.map((e) => e.event_id));
    // The in-flight batch is settled by its own fetch unless all of it went out here.
    if (carry.length > 0 && !refused.some((e) => carried.has(e.event_id))) inflightHandedOff = true;
    setQueue(refused.filter((e) => !carried.has(e.event_id)));
  };

  const onPageHide = () => {
    if (!ended && sampled) {
      ended = true;
      enqueue(EventType.SESSION_ENDED, { reason: 'pagehide' });
    }
    handOff();
  };
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') handOff();
  };
  const hasWindow = typeof window !== 'undefined' && typeof document !== 'undefined';
  if (hasWindow && sampled) {
    window.addEventListener('pagehide', onPageHide);
    document.addEventListener('visibilitychange', onVisibility);
  }

  function enqueue(eventType: string, payload: Record<string, unknown>): void {
    const event: ReporterEvent = {
      experiment_id: o.experimentId,
      timestamp: Date.now() / 1000,
      event_type: eventType,
      protocol: o.protocol,
      video_id: o.videoId,
      session_id: sessionId,
      event_id: uuid(),
      payload,
    };
    stats.reported += 1;
    queue.push(event);
    if (queue.length > o.maxQueue) drop(queue.splice(0, queue.length - o.maxQueue), 'queue_full');
    stats.queued = queue.length;
    schedule();
  }

  const flush = (): Promise<void> => {
    if (!sampled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      waiters.push(resolve);
      flushing = true;
      void pump();
    });
  };

  return {
    sessionId,
    sampled,
    stats,
    report(eventType, payload = {}) {
      if (destroyed || !sampled) return;
      if (typeof eventType !== 'string' || eventType.length === 0) return;
      enqueue(eventType, payload && typeof payload === 'object' ? payload : { value: payload });
    },
    flush,
    async destroy() {
      if (destroyed) return;
      if (!ended && sampled) {
        ended = true;
        enqueue(EventType.SESSION_ENDED, { reason: 'destroy' });
      }
      destroyed = true;
      if (hasWindow) {
        window.removeEventListener('pagehide', onPageHide);
        document.removeEventListener('visibilitychange', onVisibility);
      }
      await flush();
    },
  };
}
