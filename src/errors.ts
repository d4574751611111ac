/**
 * The error catalogue: every failure a client can see has one stable code, a status and a
 * message saying what to fix. One error handler (src/http/error-handler.ts) renders them all
 * in one shape: {"status":"error","code","message","details"?}.
 */

export interface ErrorDetail {
  /** Where the problem is: a JSON pointer into the body, or a query parameter name. */
  path: string;
  message: string;
}

const catalogue = {
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  EMPTY_BODY: { status: 400, message: 'The request body is empty; send a JSON object' },
  VALIDATION_FAILED: { status: 400, message: 'The request does not match the expected schema' },
  INVALID_EXPERIMENT_ID: {
    status: 400,
    message: 'experiment_id must be 1-128 characters of letters, digits, "_", "-" or "."',
  },
  INVALID_QUERY: { status: 400, message: 'A query parameter has an invalid value' },
  INVALID_CURSOR: {
    status: 400,
    message: 'The cursor is not valid here: pass next_cursor from a previous reply, with the same filters',
  },
  INVALID_FIELD_NAME: { status: 400, message: 'A field name is not allowed' },
  INVALID_ENCODING: { status: 400, message: 'The request body could not be decoded' },
  CMCD_SYNTAX: { status: 400, message: 'Not a valid CMCD dictionary (RFC 8941 structured-field syntax)' },
  CMCD_INVALID_REPORT: { status: 400, message: 'The CMCD report has a missing or invalid key' },
  CMCD_MISSING_EXPERIMENT: {
    status: 400,
    message:
      'No experiment for this CMCD report: POST to /api/cmcd/<experiment_id> or set the experiment key',
  },
  CMCD_NO_REPORTS: { status: 400, message: 'No CMCD report in the request could be stored' },
  IMPLAUSIBLE_TIMESTAMP: {
    status: 400,
    message: 'timestamp must be Unix time in seconds (e.g. Date.now() / 1000)',
  },
  NOT_A_BATCH: {
    status: 400,
    message: 'A batch is a JSON array of events, {"events": [...]}, or NDJSON (one event per line)',
  },
  UNAUTHORIZED: { status: 401, message: 'This endpoint needs the admin token (Authorization: Bearer ...)' },
  FORBIDDEN: { status: 403, message: 'This operation is disabled on this server' },
  NOT_FOUND: { status: 404, message: 'No such route' },
  SDK_NOT_BUILT: {
    status: 404,
    message: 'The reporter bundle is not built on this server: run `npm run build` (or `npm run build:sdk`)',
  },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  EXPERIMENT_LIMIT: {
    status: 403,
    message: 'This server holds the most experiments it accepts (MAX_EXPERIMENTS); send to an existing one',
  },
  NEW_EXPERIMENT_RATE: {
    status: 429,
    message: 'Too many new experiments in the last minute (NEW_EXPERIMENTS_PER_MINUTE); retry later',
  },
  EXPERIMENT_NOT_FOUND: { status: 404, message: 'No such experiment' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session in this experiment' },
  EXPERIMENT_CLOSED: { status: 410, message: 'This experiment no longer accepts events' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the server accepts' },
  TOO_MANY_EVENTS: { status: 413, message: 'The batch holds more events than the server accepts' },
  EVENT_NOT_STORED: {
    status: 422,
    message:
      'The store refused this event (a value it cannot hold); it was not stored, and a retry will not help',
  },
  EVENT_TOO_LARGE: { status: 413, message: 'The event is larger than the server accepts' },
  TOO_MANY_REPORTS: { status: 413, message: 'The request holds more CMCD reports than the server accepts' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported Content-Type' },
  UNSUPPORTED_ENCODING: {
    status: 415,
    message: 'Unsupported Content-Encoding; send identity, gzip, deflate or br',
  },
  OVERLOADED: { status: 503, message: 'The server is at capacity; retry after the indicated delay' },
  STORE_UNAVAILABLE: { status: 503, message: 'The storage backend is unavailable; nothing was stored' },
  STORE_CANNOT_WRITE: {
    status: 507,
    message:
      "The server's storage cannot write (disk full, read-only, damaged or removed); nothing was stored. An operator must fix it",
  },
  NOT_READY: { status: 503, message: 'Not ready to take traffic' },
  DASHBOARD_NOT_BUILT: {
    status: 503,
    message: 'The dashboard is not built: run `npm run build` (or `npm run build:web`), then reload',
  },
  INTERNAL: { status: 500, message: 'Internal server error' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed (request line, headers or framing)' },
  INGEST_KEY_REQUIRED: {
    status: 401,
    message: 'This server needs an ingest key: X-Ingest-Key header, Authorization: Bearer, or ?key=',
  },
  READ_TOKEN_REQUIRED: {
    status: 401,
    message: 'This server needs the read token: Authorization: Bearer <READ_TOKEN> (or X-Read-Token)',
  },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'Requests from this Origin are not allowed (CORS_ORIGINS)' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive; send it again' },
  URI_TOO_LONG: { status: 414, message: 'A path segment is longer than the server accepts' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the indicated delay' },
  CLIENT_BUSY: {
    status: 429,
    message: 'This client has too many requests or connections open at once; wait for one to finish',
  },
  CMCD_RATE_LIMITED: {
    status: 429,
    message: 'Too many CMCD reports from this client or session; retry after the indicated delay',
  },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the server accepts' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof catalogue;

/** Every code with its status, for docs checks. */
export const ERROR_CODES: ReadonlyArray<[ErrorCode, number]> = Object.entries(catalogue).map(
  ([code, { status }]) => [code as ErrorCode, status],
);

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: ErrorDetail[],
    /** Seconds the client should wait before retrying (sent as Retry-After). */
    readonly retryAfter?: number,
  ) {
    super(message ?? catalogue[code].message);
    this.name = 'ApiError';
    this.statusCode = catalogue[code].status;
  }
}

/** Builds an ApiError for code, with the catalogue's message unless one is given. */
export function apiError(
  code: ErrorCode,
  message?: string,
  opts: { details?: ErrorDetail[]; retryAfter?: number } = {},
): ApiError {
  return new ApiError(code, message, opts.details, opts.retryAfter);
}

/**
 * Raised by stores when writing cannot succeed until an operator acts (disk full, read-only
 * file system, damaged or removed database): a 507 without Retry-After, not "retry in 5 s".
 */
export class StoreFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreFailedError';
  }
}

/** Raised by stores when the backend cannot be reached or refuses a write. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
