// Load generator for the two-instance case (bench/multi.ts), one process per server: autocannon
// POSTing single events and recording which event_ids were acknowledged (2xx), so the bench can
// check that none of them is lost or stored twice. Every `shareEvery`-th event has an id that
// the other generator sends too (to the other server), so cross-instance retries are exercised.
// Argument: JSON {url, connections, duration, run, side, shareEvery, idsFile}; writes the
// acknowledged ids (one a line) to idsFile and prints one JSON line with the result.
import fs from 'node:fs';
import autocannon from 'autocannon';
import { benchEvent } from './events.mjs';

const { url, connections, duration, run, side, shareEvery, idsFile } = JSON.parse(process.argv[2] ?? '{}');
const acked = [];
let n = 0;

function nextEvent() {
  const i = n++;
  return i % shareEvery === 0 ? benchEvent(`${run}-shared`, i / shareEvery) : benchEvent(`${run}-${side}`, i);
}

autocannon(
  {
    url,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        // One request in flight per connection: its context holds the id until the answer.
        setupRequest: (req, context) => {
          const event = nextEvent();
          context.id = event.event_id;
          return { ...req, body: JSON.stringify(event) };
        },
        onResponse: (status, _body, context) => {
          if (status >= 200 && status < 300) acked.push(context.id);
        },
      },
    ],
  },
  (err, r) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    fs.writeFileSync(idsFile, acked.join('\n'));
    console.log(
      JSON.stringify({
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds: r.duration,
        acked: acked.length,
        p50: r.latency.p50,
        p99: r.latency.p99,
      }),
    );
  },
);
