/**
 * One CMCD request to events: decode whatever the request carries (body lines or JSON, `CMCD`
 * query argument, `CMCD-*` headers), validate each report on its own, resolve its experiment
 * and map it. Bad reports are listed, never fatal to the good ones. Pure apart from the
 * session memory; the route stores the events.
 */
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
  memory?: SessionMemory;
  /** The experiment a report belongs to, or why it has none. */
  experimentFor: (data: CmcdData) => string | ErrorDetail;
  isClosed?: (experimentId: string) => boolean;
}

export interface CollectResult {
  /** The request carried no CMCD data at all. */
  empty: boolean;
  events: SubmitEvent[];
  rejected: ReportProblem[];
  warnings: { origin: ReportOrigin; details: ErrorDetail[] }[];
}

/** Decodes every report in the request. Throws INVALID_JSON for a JSON body that does not parse. */
export function decodeRequest(parts: CmcdRequestParts): {
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
        value = JSON.parse(body);
      } catch (err) {
        throw apiError('INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`);
      }
      decoded = decodeCmcdJson(value);
    } else {
      decoded = decodeCmcdLines(body);
    }
    reports.push(...decoded.reports);
    problems.push(...decoded.problems);
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

export function collectReports(parts: CmcdRequestParts, opts: CollectOptions): CollectResult {
  const { reports, problems, empty } = decodeRequest(parts);
  const result: CollectResult = { empty, events: [], rejected: problems, warnings: [] };
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
    if (check.warnings.length > 0) result.warnings.push({ origin, details: check.warnings });
  }
  result.rejected.sort((a, b) => orderOf(a.origin) - orderOf(b.origin));
  return result;
}

function orderOf(o: ReportOrigin): number {
  if ('line' in o) return o.line;
  if ('index' in o) return o.index;
  return Number.MAX_SAFE_INTEGER;
}
