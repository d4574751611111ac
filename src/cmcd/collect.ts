/**
 * One CMCD request to events: decode whatever the request carries (body lines or JSON, `CMCD`
 * query argument, `CMCD-*` headers), validate each report on its own, resolve its experiment
 * and map it. Bad reports are listed, never fatal to the good ones. Pure apart from the
 * session memory; the route stores the events.
 */
import secureJson from 'secure-json-parse';
import { apiError, type ErrorDetail } from '../errors.ts';
import type { SubmitEvent } from '../events/schema.ts';
import {
  type CmcdData,
  checkReport,
  type DecodedReport,
  decodeCmcdHeaders,
  decodeCmcdJson,
  decodeCmcdLines,
  decodeCmcdQuery,
  looksLikeJson,
  type ReportOrigin,
  type ReportProblem,
} from './decode.ts';
import { type SessionMemory, toEvent } from './map.ts';

export interface CmcdRequestParts {
  body: string | undefined;
  query: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface CollectOptions {
  now: Date;
  /** Most reports a request may carry (CMCD_MAX_REPORTS); more is a 413. */
  maxReports?: number;
  memory?: SessionMemory;
  /** The experiment a report belongs to, or why it has none. */
  experimentFor: (data: CmcdData) => string | ErrorDetail;
  isClosed?: (experimentId: string) => boolean;
}

export interface CollectResult {
  /** The request carried no CMCD data at all. */
  empty: boolean;
  events: (SubmitEvent & { timestamp_source?: 'server' })[];
  /** Where each of `events` came from (same order), for per-report rejections when storing. */
  origins: ReportOrigin[];
  rejected: ReportProblem[];
  warnings: { origin: ReportOrigin; details: ErrorDetail[] }[];
}

/**
 * Decodes every report in the request. Throws INVALID_JSON for a JSON body that does not parse
 * (or carries `__proto__` / `constructor.prototype`, refused as /api/submit refuses them), and
 * TOO_MANY_REPORTS past maxReports, counted before any report is decoded.
 */
export function decodeRequest(
  parts: CmcdRequestParts,
  maxReports = Number.POSITIVE_INFINITY,
): {
  reports: DecodedReport[];
  problems: ReportProblem[];
  empty: boolean;
} {
  const reports: DecodedReport[] = [];
  const problems: ReportProblem[] = [];
  let empty = true;
  const body = parts.body?.replace(/^\uFEFF/, '');
  if (body !== undefined && body.trim() !== '') {
    empty = false;
    let decoded: ReturnType<typeof decodeCmcdLines>;
    if (looksLikeJson(body)) {
      let value: unknown;
      try {
        value = secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' });
      } catch (err) {
        throw apiError('INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`);
      }
      checkCount(Array.isArray(value) ? value.length : 1, maxReports);
      decoded = decodeCmcdJson(value);
    } else {
      checkCount(countLines(body), maxReports);
      decoded = decodeCmcdLines(body);
    }
    // One at a time: spreading 100,000+ reports into push() overflows the call stack.
    for (const r of decoded.reports) reports.push(r);
    for (const p of decoded.problems) problems.push(p);
  }
  for (const r of [
    parts.query !== undefined && parts.query !== '' ? decodeCmcdQuery(parts.query) : undefined,
    decodeCmcdHeaders(parts.headers),
  ]) {
    if (r === undefined) continue;
    empty = false;
    if ('code' in r) problems.push(r);
    else reports.push(r);
  }
  return { reports, problems, empty };
}

function countLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

function checkCount(n: number, max: number): void {
  if (n > max) {
    throw apiError(
      'TOO_MANY_REPORTS',
      `The request holds ${n} CMCD reports; this server accepts at most ${max} per request (CMCD_MAX_REPORTS)`,
    );
  }
}

export function collectReports(parts: CmcdRequestParts, opts: CollectOptions): CollectResult {
  const { reports, problems, empty } = decodeRequest(parts, opts.maxReports);
  const result: CollectResult = { empty, events: [], origins: [], rejected: problems, warnings: [] };
  for (const report of reports) {
    const { origin } = report;
    const check = checkReport(report);
    if (check.errors.length > 0) {
      const first = check.errors[0] as ErrorDetail;
      result.rejected.push({
        origin,
        code: 'CMCD_INVALID_REPORT',
        message: `${first.path ? `"${first.path}": ` : ''}${first.message}`,
        details: check.errors,
      });
      continue;
    }
    const experiment = opts.experimentFor(check.data);
    if (typeof experiment !== 'string') {
      result.rejected.push({ origin, code: 'CMCD_MISSING_EXPERIMENT', message: experiment.message });
      continue;
    }
    if (opts.isClosed?.(experiment)) {
      result.rejected.push({
        origin,
        code: 'EXPERIMENT_CLOSED',
        message: `Experiment "${experiment}" is closed`,
      });
      continue;
    }
    result.events.push(
      toEvent(check.data, {
        experimentId: experiment,
        mode: report.mode,
        now: opts.now,
        memory: opts.memory,
      }),
    );
    result.origins.push(origin);
    if (check.warnings.length > 0) result.warnings.push({ origin, details: check.warnings });
  }
  result.rejected.sort((a, b) => orderOf(a.origin) - orderOf(b.origin));
  return result;
}

/** Rejections are listed in the order of the request (lines, array items, then query/headers). */
export function orderOf(o: ReportOrigin): number {
  if ('line' in o) return o.line;
  if ('index' in o) return o.index;
  return Number.MAX_SAFE_INTEGER;
}
