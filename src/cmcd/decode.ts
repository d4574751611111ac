/**
 * Decoding and validating CMCD reports: event-mode bodies (one RFC 8941 dictionary per line,
 * or the older JSON array), and request-mode data from a `CMCD` query argument or `CMCD-*`
 * headers. Pure functions; @svta/cml-cmcd does the structured-field parsing and CTA-5004's
 * value rules. What a report may still be stored with is our policy, below.
 */
import { decodeCmcd, validateCmcdKeys, validateCmcdStructure, validateCmcdValues } from '@svta/cml-cmcd';
import type { ErrorCode, ErrorDetail } from '../errors.ts';

/** One decoded CMCD dictionary (tokens as strings, parameterised items as {value, params}). */
export type CmcdData = Record<string, unknown>;

export type CmcdMode = 'event' | 'request';

/** Where a report came from, for the reply: a body line, a JSON array index, query or headers. */
export type ReportOrigin = { line: number } | { index: number } | { source: 'query' | 'headers' };

export interface DecodedReport {
  origin: ReportOrigin;
  mode: CmcdMode;
  data: CmcdData;
}

export interface ReportProblem {
  origin: ReportOrigin;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

/** The request-mode header fields (CTA-5004 section 4.1), as Node lower-cases them. */
export const CMCD_HEADER_NAMES = ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session'] as const;

/** `e` values are tokens; unknown ones (newer spec, vendor) are kept if they look like one. */
const EVENT_TOKEN = /^[a-z][a-z0-9]{0,15}$/;

/** A JSON body: starts with `[` or `{` (CMCD lines start with a key, never with these). */
export function looksLikeJson(text: string): boolean {
  const c = text.trimStart()[0];
  return c === '[' || c === '{';
}

/**
 * Splits an `application/cmcd` body into its report lines, numbered from 1 as a text editor
 * shows them. Blank lines are skipped (a trailing line feed is tolerated).
 */
export function decodeCmcdLines(text: string): { reports: DecodedReport[]; problems: ReportProblem[] } {
  const reports: DecodedReport[] = [];
  const problems: ReportProblem[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const origin = { line: i + 1 };
    const decoded = decodeDictionary(line);
    if (decoded.ok) reports.push({ origin, mode: 'event', data: decoded.data });
    else problems.push({ origin, code: 'CMCD_SYNTAX', message: decoded.message });
  }
  return { reports, problems };
}

/**
 * Decodes the older JSON form: an array of CMCD objects (keys as in CMCD, tokens as strings,
 * inner lists as arrays), or one such object. An array item may also be a CMCD line string.
 */
export function decodeCmcdJson(value: unknown): { reports: DecodedReport[]; problems: ReportProblem[] } {
  const items = Array.isArray(value) ? value : [value];
  const reports: DecodedReport[] = [];
  const problems: ReportProblem[] = [];
  for (const [index, item] of items.entries()) {
    const origin = { index };
    if (typeof item === 'string') {
      const decoded = decodeDictionary(item);
      if (decoded.ok) reports.push({ origin, mode: 'event', data: decoded.data });
      else problems.push({ origin, code: 'CMCD_SYNTAX', message: decoded.message });
    } else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      if (deeperThan(item, MAX_JSON_DEPTH)) {
        problems.push({
          origin,
          code: 'CMCD_INVALID_REPORT',
          message: `The report is nested deeper than ${MAX_JSON_DEPTH} levels`,
        });
      } else {
        reports.push({ origin, mode: 'event', data: item as CmcdData });
      }
    } else {
      problems.push({
        origin,
        code: 'CMCD_SYNTAX',
        message: 'A JSON CMCD report must be an object (or a CMCD line as a string)',
      });
    }
  }
  return { reports, problems };
}

/** As /api/submit: deeper JSON is refused (CMCD values are at most an inner list deep). */
const MAX_JSON_DEPTH = 32;

/** Whether value nests more than `levels` deep; recursion stops there, so any input is safe. */
function deeperThan(value: object, levels: number): boolean {
  if (levels === 0) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (v !== null && typeof v === 'object' && deeperThan(v, levels - 1)) return true;
  }
  return false;
}

/** Decodes a `CMCD` query argument (already percent-decoded) as one request-mode report. */
export function decodeCmcdQuery(value: string): DecodedReport | ReportProblem {
  const origin = { source: 'query' as const };
  const decoded = decodeDictionary(value);
  if (!decoded.ok) return { origin, code: 'CMCD_SYNTAX', message: `CMCD query argument: ${decoded.message}` };
  return { origin, mode: 'request', data: decoded.data };
}

/**
 * Merges the `CMCD-Request`, `CMCD-Object`, `CMCD-Status` and `CMCD-Session` headers into one
 * request-mode report; undefined when none is present.
 */
export function decodeCmcdHeaders(
  headers: Record<string, string | string[] | undefined>,
): DecodedReport | ReportProblem | undefined {
  const origin = { source: 'headers' as const };
  const data: CmcdData = {};
  let seen = false;
  const details: ErrorDetail[] = [];
  for (const name of CMCD_HEADER_NAMES) {
    const raw = headers[name];
    if (raw === undefined) continue;
    seen = true;
    const decoded = decodeDictionary(Array.isArray(raw) ? raw.join(',') : raw);
    if (decoded.ok) Object.assign(data, decoded.data);
    else details.push({ path: name, message: decoded.message });
  }
  if (!seen) return undefined;
  if (details.length > 0) {
    return { origin, code: 'CMCD_SYNTAX', message: 'A CMCD header is not a valid dictionary', details };
  }
  return { origin, mode: 'request', data };
}

function decodeDictionary(text: string): { ok: true; data: CmcdData } | { ok: false; message: string } {
  try {
    return { ok: true, data: decodeCmcd(text) as CmcdData };
  } catch {
    // The library's message quotes the whole input; keep replies short and bodies out of them.
    return { ok: false, message: 'Not a valid CMCD dictionary (RFC 8941 structured-field syntax)' };
  }
}

/** CMCD v2 keys whose value is an inner list of numbers (CTA-5004-B); v1 sent them as numbers. */
export const NUMBER_LIST_KEYS: ReadonlySet<string> = new Set([
  'ab',
  'bl',
  'br',
  'bsa',
  'bsd',
  'bsda',
  'lab',
  'lb',
  'mtp',
  'pb',
  'tab',
  'tb',
  'tbl',
  'tpb',
]);

export interface ReportCheck {
  /** The report with v1-style scalars of v2 list keys wrapped in a list (event mode only). */
  data: CmcdData;
  /** Problems that make the report unusable: it is rejected. */
  errors: ErrorDetail[];
  /** Departures from CTA-5004 that do not stop us storing it (unknown keys, missing `v`...). */
  warnings: ErrorDetail[];
}

/**
 * Validates one report. Rejected: a wrong-typed value of a key CMCD defines (the number we
 * would store would be garbage), and in event mode a missing or malformed `e`. Everything else
 * CTA-5004's validators (in @svta/cml-cmcd) flag (unknown keys, missing `v` or `ts`, custom-key value types, a
 * missing state field) is a warning: players in the wild send such reports and they still
 * carry the data, and a player that gets a 4xx drops the report for good.
 */
export function checkReport(report: DecodedReport): ReportCheck {
  const { mode } = report;
  const errors: ErrorDetail[] = [];
  const warnings: ErrorDetail[] = [];
  const data = mode === 'event' ? wrapScalarLists(report.data, warnings) : report.data;
  // Event mode exists only in CMCD v2; request-mode data says its version (absent means 1).
  const version = mode === 'event' ? 2 : data.v === 2 ? 2 : 1;
  const options = { version, reportingMode: mode } as const;

  if (mode === 'event') {
    const e = data.e;
    if (e === undefined) errors.push({ path: 'e', message: 'Event reports need the "e" key' });
    else if (typeof e !== 'string' || !EVENT_TOKEN.test(e)) {
      errors.push({ path: 'e', message: '"e" must be an event token such as ps, t, e, bc or rr' });
    }
  }
  for (const issue of validateCmcdValues(data, options).issues) {
    const key = issue.key ?? '';
    const soft = issue.severity !== 'error' || key === 'e' || key.includes('-');
    if (soft && key === 'e' && errors.some((d) => d.path === 'e')) continue;
    (soft ? warnings : errors).push({ path: key, message: issue.message });
  }
  for (const issue of [
    ...validateCmcdKeys(data, options).issues,
    ...validateCmcdStructure(data, options).issues,
  ]) {
    if (issue.key === 'e' && errors.some((d) => d.path === 'e')) continue;
    warnings.push({ path: issue.key ?? '', message: issue.message });
  }
  return { data, errors, warnings };
}

/** Event reports are v2, but older senders (and JSON bodies) give `br=3000` for `br=(3000)`. */
function wrapScalarLists(data: CmcdData, warnings: ErrorDetail[]): CmcdData {
  let out: CmcdData | undefined;
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === 'number' && NUMBER_LIST_KEYS.has(k)) {
      out ??= { ...data };
      out[k] = [v];
      warnings.push({ path: k, message: `"${k}" is a list in CMCD v2; read ${v} as (${v})` });
    }
  }
  return out ?? data;
}
