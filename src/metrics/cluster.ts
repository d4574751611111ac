/**
 * /metrics under WORKERS=n: the worker that takes the scrape asks the cluster primary, which
 * gathers every worker's registries (prom-client's AggregatorRegistry, over the cluster's IPC
 * channel) and answers the sum. Otherwise each scrape would see one worker at random and
 * Prometheus would read the counters as going up and down.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'stats-server:metrics-request';
const REPLY = 'stats-server:metrics-reply';
/** Longer than AggregatorRegistry's own 5 s timeout, so its error arrives first. */
const TIMEOUT_MS = 6000;

interface Request {
  type: typeof REQUEST;
  id: number;
}
interface Reply {
  type: typeof REPLY;
  id: number;
  text?: string;
  error?: string;
}

/** In the primary: answers workers' requests with the metrics of all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: Request) => {
    if (msg?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: REPLY, id: msg.id, text } satisfies Reply),
      (err: Error) => worker.send({ type: REPLY, id: msg.id, error: err.message } satisfies Reply),
    );
  });
}

let nextId = 0;
const pending = new Map<number, (r: Reply) => void>();
let listening = false;

/**
 * In a worker: offers `registries` to the primary's aggregation and returns a function that
 * fetches the whole cluster's metrics. Undefined outside a cluster worker.
 */
export function clusterScrape(registries: Registry[]): (() => Promise<string>) | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  new AggregatorRegistry(); // installs prom-client's worker-side listener
  AggregatorRegistry.setRegistries(registries);
  if (!listening) {
    listening = true;
    process.on('message', (msg: Reply) => {
      if (msg?.type !== REPLY) return;
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    });
  }
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the cluster primary did not answer with metrics'));
      }, TIMEOUT_MS);
      pending.set(id, (r) => {
        clearTimeout(timer);
        if (r.text !== undefined) resolve(r.text);
        else reject(new Error(r.error ?? 'no metrics'));
      });
      process.send?.({ type: REQUEST, id } satisfies Request);
    });
}
