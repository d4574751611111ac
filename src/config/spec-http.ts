/**
 * The spec entries (see spec.ts) of the HTTP layer's limits and of access control: slow
 * clients, connection caps, shutdown, and the public-network profile (docs/security.md).
 */
import { ConfigError } from './error.ts';
import { bool, custom, int, oneOf, type Var } from './vars.ts';

const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** proxy-addr's names for address ranges. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const isPublic = (get: (n: string) => unknown) => get('SECURITY_PROFILE') === 'public';

/** A secret of at least 16 characters (keys and tokens a browser or a player may carry). */
function secret(raw: string, name: string): string {
  if (raw.length < 16) throw new ConfigError(name, 'must be at least 16 characters');
  return raw;
}

export const HTTP_SPEC = {
  HTTP_REQUEST_TIMEOUT_MS: int({
    section: 'http',
    min: 100,
    max: 3_600_000,
    default: 60_000,
    doc: 'the whole request (headers and body) must arrive within this, else `408`',
  }),
  HTTP_HEADERS_TIMEOUT_MS: int({
    section: 'http',
    min: 100,
    max: 600_000,
    default: {
      shows: '`20000` (at most `HTTP_REQUEST_TIMEOUT_MS`)',
      from: (get) => Math.min(20_000, get('HTTP_REQUEST_TIMEOUT_MS') as number),
    },
    doc: 'the request headers must arrive within this',
  }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int({
    section: 'http',
    min: 100,
    max: 600_000,
    default: 10_000,
    doc: 'an idle keep-alive connection is closed after this',
  }),
  HTTP_IDLE_TIMEOUT_MS: int({
    section: 'http',
    min: 100,
    max: 3_600_000,
    default: 30_000,
    doc: 'a socket with no traffic either way this long is destroyed (stalled uploads, unread exports)',
  }),
  HTTP_BODY_MIN_BYTES_PER_S: int({
    section: 'http',
    min: 0,
    max: 1024 * 1024 * 1024,
    default: 1024,
    doc: 'a body still arriving after `HTTP_BODY_GRACE_MS` must average this many bytes/s, else `408`',
  }),
  HTTP_BODY_GRACE_MS: int({
    section: 'http',
    min: 0,
    max: 600_000,
    default: 10_000,
    doc: 'how long a body may arrive at any pace',
  }),
  HTTP_MAX_CONNECTIONS: int({
    section: 'http',
    min: 1,
    max: 1_000_000,
    default: 5000,
    doc: 'open connections per process; beyond this, new ones are dropped',
  }),
  SHUTDOWN_GRACE_MS: int({
    section: 'http',
    min: 0,
    max: 60_000,
    default: 5000,
    doc: 'on SIGTERM, connections still mid-request after this are destroyed',
  }),
  SECURITY_PROFILE: oneOf(['open', 'public'], {
    section: 'access',
    default: 'open',
    ignoreCase: true,
    doc: '`open` (a lab LAN: no credentials) or `public`: ingest keys, a read token, an origin list, rate limits and security headers ([security.md](security.md))',
  }),
  INGEST_KEYS: custom<string[]>({
    section: 'access',
    default: [],
    accepts: 'keys, comma-separated',
    doc: 'keys accepted on ingest routes (`X-Ingest-Key`, `Authorization: Bearer` or `?key=`); required with `SECURITY_PROFILE=public`',
    parse: (raw, name) =>
      list(raw).map((k) => {
        if (k.length < 16) throw new ConfigError(name, 'every key must be at least 16 characters');
        return k;
      }),
  }),
  READ_TOKEN: custom<string | undefined>({
    section: 'access',
    default: undefined,
    accepts: 'text (16+ characters)',
    doc: 'token every data read and the dashboard need (`Authorization: Bearer`, `X-Read-Token` or `?token=`); required with `SECURITY_PROFILE=public`',
    parse: secret,
  }),
  RATE_LIMIT_PER_IP: int({
    section: 'access',
    min: 0,
    max: 100_000_000,
    default: { shows: '`600` with `public`, else `0` (none)', from: (get) => (isPublic(get) ? 600 : 0) },
    doc: 'requests per client IP per window (`429` beyond)',
  }),
  RATE_LIMIT_PER_KEY: int({
    section: 'access',
    min: 0,
    max: 100_000_000,
    default: { shows: '`60000` with `public`, else `0` (none)', from: (get) => (isPublic(get) ? 60_000 : 0) },
    doc: 'requests per ingest key per window',
  }),
  RATE_LIMIT_WINDOW_MS: int({
    section: 'access',
    min: 1000,
    max: 86_400_000,
    default: 60_000,
    doc: "the rate limits' window",
  }),
  SECURITY_HEADERS: bool({
    section: 'access',
    default: { shows: '`true` with `public`, else `false`', from: (get) => isPublic(get) },
    doc: 'security headers (helmet) on every reply',
  }),
  TRUST_PROXY: custom<boolean | number | string[]>({
    section: 'access',
    default: false,
    accepts:
      'proxy addresses/CIDRs (or `loopback`, `linklocal`, `uniquelocal`), `false`, a hop count (not with `public`)',
    doc: "the proxies whose `X-Forwarded-For` names the client IP (rate limits and per-client caps behind a load balancer); `true` is refused: it would believe any client's header",
    parse(raw, name) {
      const v = raw.trim().toLowerCase();
      if (/^\d+$/.test(v)) {
        const n = Number(v);
        if (n > 100) throw new ConfigError(name, `must be between 0 and 100, got ${n}`);
        return n;
      }
      if (['true', 'yes', 'on'].includes(v)) {
        throw new ConfigError(
          name,
          "true would take the client IP from any client's X-Forwarded-For (a client can rotate it past every per-client limit); list the proxies' addresses or CIDRs, e.g. 127.0.0.1,10.0.0.0/8",
        );
      }
      if (['false', 'no', 'off'].includes(v)) return false;
      const items = list(raw);
      for (const a of items) {
        if (!PROXY_NAMES.has(a.toLowerCase()) && !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a)) {
          throw new ConfigError(
            name,
            `"${a}" is not an address or CIDR (or loopback, linklocal, uniquelocal)`,
          );
        }
      }
      return items;
    },
  }),
} satisfies Record<string, Var<unknown>>;
