/**
 * The spec entries (see spec.ts) of fair sharing between clients: per-client connection and
 * in-flight caps, how much of an oversized body is read before its 413 connection closes, and
 * the CMCD report rates (docs/security.md, docs/ingest-limits.md).
 */
import { int, type Var } from './vars.ts';

const isPublic = (get: (n: string) => unknown) => get('SECURITY_PROFILE') === 'public';

export const CLIENT_SPEC = {
  HTTP_MAX_CONNECTIONS_PER_CLIENT: int({
    section: 'http',
    min: 0,
    max: 1_000_000,
    default: {
      shows: '`256`, at most a quarter of `HTTP_MAX_CONNECTIONS`',
      from: (get) => Math.max(1, Math.min(256, Math.floor((get('HTTP_MAX_CONNECTIONS') as number) / 4))),
    },
    doc: 'open connections per client address (`TRUST_PROXY` proxies exempt); a client over it gets `429 CLIENT_BUSY` and the connection is closed; `0`: no cap',
  }),
  HTTP_MAX_IN_FLIGHT_PER_CLIENT: int({
    section: 'http',
    min: 0,
    max: 1_000_000,
    default: 128,
    doc: 'requests of one client (its address, or the forwarded one behind `TRUST_PROXY`) being served at once; more get `429 CLIENT_BUSY`. Probes and `/api/health` are not counted; `0`: no cap',
  }),
  HTTP_DISCARD_MAX_BYTES: int({
    section: 'http',
    min: 0,
    max: 1024 * 1024 * 1024,
    default: 64 * 1024 * 1024,
    doc: 'after a `413`, up to this much more of the oversized body is read and discarded so that the client reads the reply; past it the connection is closed',
  }),
  CMCD_REPORTS_PER_S_PER_CLIENT: int({
    section: 'cmcd',
    min: 0,
    max: 100_000_000,
    default: { shows: '`100` with `public`, else `1000`', from: (get) => (isPublic(get) ? 100 : 1000) },
    doc: 'CMCD reports a client may send per second, in bursts of up to `CMCD_MAX_REPORTS`; a request over it gets `429 CMCD_RATE_LIMITED` with `Retry-After`, nothing stored; `0`: no cap',
  }),
  CMCD_REPORTS_PER_S_PER_SESSION: int({
    section: 'cmcd',
    min: 0,
    max: 100_000_000,
    default: 20,
    doc: 'CMCD reports one session (`sid` in an experiment) may send per second, in bursts of 10 s worth; the reports over it are rejected (`CMCD_RATE_LIMITED`), the others stored; `0`: no cap',
  }),
} satisfies Record<string, Var<unknown>>;
