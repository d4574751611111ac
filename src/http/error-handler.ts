/**
 * The one place errors become responses: ApiErrors as catalogued, Fastify's own errors mapped
 * onto the catalogue, anything else a 500 with no stack trace (logged with the request id).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  apiError,
  type ErrorCode,
  type ErrorDetail,
  StoreFailedError,
  StoreUnavailableError,
} from '../errors.ts';
import { bodyLimitOf, discardRest } from './oversize.ts';

interface AjvIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Seconds a client should wait after the store was unreachable. */
const STORE_RETRY_AFTER = 5;

function validationError(err: FastifyError): ApiError {
  const part = err.validationContext ?? 'body';
  const issues = (err.validation ?? []) as AjvIssue[];
  const details: ErrorDetail[] = issues.map((v) => {
    const missing = v.keyword === 'required' ? `/${String(v.params.missingProperty)}` : '';
    const where = `${v.instancePath}${missing}`;
    const path = part === 'body' ? where || '/' : where.replace(/^\//, '') || part;
    return { path: part === 'body' ? path : `${part}.${path}`, message: v.message ?? v.keyword };
  });
  // Path params are only ever ids: a bad one is a bad experiment id, whatever the route calls it.
  const badId = (v: AjvIssue) =>
    (v.instancePath.endsWith('/experiment_id') && v.keyword === 'pattern') ||
    (part === 'params' && (v.instancePath === '/id' || v.instancePath === '/experiment_id'));
  if (issues.some(badId)) {
    return apiError('INVALID_EXPERIMENT_ID', undefined, { details });
  }
  const code: ErrorCode = part === 'body' ? 'VALIDATION_FAILED' : 'INVALID_QUERY';
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
  return apiError(code, `Invalid ${part}: ${summary}`, { details });
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_BODY',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_ENCODING',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
};

/** Catalogue codes for the statuses Fastify (or a plugin) raises without an entry above. */
const byStatus: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/** Maps any thrown value onto the catalogue. */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreFailedError) return apiError('STORE_CANNOT_WRITE');
  if (err instanceof StoreUnavailableError) {
    return apiError('STORE_UNAVAILABLE', undefined, { retryAfter: STORE_RETRY_AFTER });
  }
  const fe = err as FastifyError;
  if (fe?.validation) return validationError(fe);
  const mapped = fe?.code ? fastifyCodes[fe.code] : undefined;
  if (mapped === 'INVALID_JSON')
    return apiError('INVALID_JSON', `The request body is not valid JSON: ${fe.message}`);
  if (mapped) return apiError(mapped);
  if (fe instanceof SyntaxError && fe.statusCode === 400) {
    return apiError('INVALID_JSON', `The request body is not valid JSON: ${fe.message}`);
  }
  return undefined;
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  return reply.code(err.statusCode).send({
    status: 'error',
    code: err.code,
    message: err.message,
    ...(err.details && err.details.length > 0 ? { details: err.details } : {}),
  });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    let known = toApiError(err);
    if (known?.code === 'BODY_TOO_LARGE') {
      discardRest(request, reply, request.server.config.http.discardMaxBytes);
      if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        known = apiError(
          'BODY_TOO_LARGE',
          `The request body is over ${bodyLimitOf(request)} bytes, the most this route accepts (BODY_LIMIT; INGEST_BATCH_BODY_LIMIT for batches): send smaller requests`,
        );
      }
    }
    if (known) {
      if (known.statusCode >= 500)
        request.log.warn({ code: known.code, err: errSummary(err) }, known.message);
      return sendError(reply, known);
    }
    const fe = err as FastifyError;
    if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // A client error Fastify raised that we have no entry for: keep its status, our shape
      // and a catalogue code (never an FST_ERR_* name).
      const code = byStatus[fe.statusCode] ?? 'BAD_REQUEST';
      return reply
        .code(fe.statusCode)
        .send({ status: 'error', code, message: fe.message || apiError(code).message });
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, apiError('INTERNAL'));
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, apiError('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (a path param over
 * maxParamLength, a URL that cannot be decoded) rendered like every other error.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const known = toApiError(err) ?? apiError(byStatus[err.statusCode ?? 400] ?? 'BAD_REQUEST');
  sendError(reply, known);
}

/**
 * Node's `clientError`: a request Node could not parse (bad request line, bad Content-Length,
 * headers too large) or that timed out before a route saw it. Answered on the raw socket in the
 * documented shape, then the socket is closed (its framing can no longer be trusted).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'REQUEST_TIMEOUT'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? 'HEADERS_TOO_LARGE'
        : 'BAD_REQUEST';
  const e = apiError(code);
  const body = JSON.stringify({ status: 'error', code, message: e.message });
  const status = e.statusCode;
  // As Node does: never write into the middle of a response already under way.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function errSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
