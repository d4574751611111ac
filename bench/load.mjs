// Load generator, run as its own process by bench/ingest.ts so it does not share an event loop
// with the server: autocannon POSTing events (each with a unique event_id, as the SDK sends
// them) singly or in batches. Argument: JSON {url, connections, duration, batchSize}; prints
// one JSON line with the result.
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { benchEvent } from './events.mjs';

const { url, connections, duration, batchSize, testbed } = JSON.parse(process.argv[2] ?? '{}');
const run = randomBytes(4).toString('hex');
let n = 0;

const event = () => benchEvent(run, n++, testbed);

const body = () => JSON.stringify(batchSize ? Array.from({ length: batchSize }, event) : event());

autocannon(
  {
    url,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  },
  (err, r) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    const ok = r['2xx'];
    console.log(
      JSON.stringify({
        ok,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds: r.duration,
        events: ok * (batchSize || 1),
        p50: r.latency.p50,
        p99: r.latency.p99,
      }),
    );
  },
);
