/**
 * Authentication failures told apart from an unreachable server: the driver reports a refused
 * login as a server error or as a cleared connection pool ("cannot reach" would send an
 * operator looking at the network), so its messages are recognised here and the store says
 * "authentication … failed" with the host, user, mechanism and auth database, never the
 * password.
 */

/** Who the connection string logs in as, for messages; null when it carries no credentials. */
export interface MongoLogin {
  user: string | null;
  /** authMechanism from the URL, or null for the driver's default (SCRAM, as the server offers). */
  mechanism: string | null;
  authSource: string;
}

/** The login a connection string asks for (no password), or null when it asks for none. */
export function loginOf(url: string): MongoLogin | null {
  const m = /^mongodb(?:\+srv)?:\/\/(?:([^@/]*)@)?[^/?]*(?:\/([^?]*))?(?:\?(.*))?$/.exec(url);
  if (!m) return null;
  const [, userinfo, db, query = ''] = m;
  const opts = new URLSearchParams(query);
  const mechanism = opts.get('authMechanism');
  if (!userinfo && !mechanism) return null;
  const rawUser = userinfo?.split(':')[0];
  let user: string | null = null;
  try {
    user = rawUser ? decodeURIComponent(rawUser) : null;
  } catch {
    user = rawUser ?? null;
  }
  return { user, mechanism, authSource: opts.get('authSource') ?? (db || 'admin') };
}

const AUTH_TEXT =
  /authentication failed|unsupported authentication mechanism|auth(?:entication)? mechanism|sasl|scram|not authorized|requires authentication/i;

/** Whether an error (or the text of the last connection failure) is a refused login. */
export function isAuthFailure(err: unknown, lastFailure?: string): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const x = e as { name?: string; code?: unknown; codeName?: unknown; message?: unknown; cause?: unknown };
    if (x.code === 18 || x.codeName === 'AuthenticationFailed') return true;
    if (x.name === 'MongoAuthError' || x.name === 'MongoMissingCredentialsError') return true;
    if (typeof x.message === 'string' && AUTH_TEXT.test(x.message)) return true;
    e = x.cause;
  }
  return lastFailure !== undefined && AUTH_TEXT.test(lastFailure);
}

/**
 * "authentication to MongoDB at host:port failed (user "u", mechanism M, authSource db): why",
 * on one line. The mechanism is the URL's, else the one the server named, else the default.
 */
export function authFailureMessage(where: string, login: MongoLogin | null, why: string): string {
  const named = /mechanism "?([A-Z0-9_-]+)"?/i.exec(why)?.[1];
  const mechanism = login?.mechanism ?? named ?? 'SCRAM (the driver default)';
  const parts = [
    login?.user ? `user "${login.user}"` : 'no user in MONGO_URL',
    `mechanism ${mechanism}`,
    `authSource ${login?.authSource ?? 'admin'}`,
  ];
  return `authentication to MongoDB at ${where} failed (${parts.join(', ')}): ${why.replace(/\s*\n\s*/g, ' ')}`;
}
