/** Response format negotiation for event reads: `format=` wins, else the Accept header, else JSON. */

export type ReadFormat = 'json' | 'ndjson' | 'csv';

export const CONTENT_TYPES: Record<ReadFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

const MEDIA: Record<string, ReadFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
  'text/csv': 'csv',
};

/**
 * The format for a request. Accept ranges are tried by q-value (ties keep header order);
 * anything unrecognised (a browser's text/html, *\/*) falls back to JSON rather than a 406.
 */
export function negotiateFormat(format: string | undefined, accept: string | undefined): ReadFormat {
  if (format === 'json' || format === 'ndjson' || format === 'csv') return format;
  if (!accept) return 'json';
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.q > 0 && !Number.isNaN(r.q))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const f = MEDIA[r.type];
    if (f) return f;
  }
  return 'json';
}
