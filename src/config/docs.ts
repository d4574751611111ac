/**
 * The configuration tables of docs/configuration.md, rendered from the spec: one table per
 * section, then the folded (deprecated) variables. `npm run docs:config` writes them between
 * the markers; test/config.docs.test.ts fails when the committed text differs.
 */
import { SECTIONS, SPEC } from './spec.ts';
import { isDerived, type Var } from './vars.ts';

export const BEGIN =
  '<!-- config:begin (generated from src/config/spec.ts by `npm run docs:config`; do not edit) -->';
export const END = '<!-- config:end -->';

function shownDefault(v: Var<unknown>): string {
  const d = v.default;
  if (isDerived(d)) return d.shows;
  if (d === undefined || (Array.isArray(d) && d.length === 0)) return 'unset';
  return `\`${Array.isArray(d) ? d.join(',') : String(d)}\``;
}

/** A Markdown table with its columns padded, as a formatter would leave it. */
function table(head: string[], rows: string[][]): string {
  const cells = [head, ...rows].map((r) => r.map((c) => c.replaceAll('|', '\\|')));
  const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [first = [], ...rest] = cells;
  return [line(first), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rest.map(line)].join('\n');
}

function nameCell(name: string, v: Var<unknown>): string {
  const aliases = (v.aliases ?? []).map((a) => ` (or \`${a}\`)`).join('');
  return `\`${name}\`${aliases}`;
}

/** The generated Markdown (without the markers). */
export function renderConfigTables(): string {
  const entries = Object.entries(SPEC) as Array<[string, Var<unknown>]>;
  for (const [name, v] of entries) {
    if (!(v.section in SECTIONS))
      throw new Error(`config spec: ${name} has an unknown section "${v.section}"`);
  }
  const parts: string[] = [];
  for (const [key, title] of Object.entries(SECTIONS)) {
    const rows = entries
      .filter(([, v]) => v.section === key && !v.deprecated)
      .map(([name, v]) => [nameCell(name, v), shownDefault(v), v.accepts, v.doc]);
    if (rows.length > 0)
      parts.push(`### ${title}\n\n${table(['variable', 'default', 'accepts', 'meaning'], rows)}`);
  }
  const folded = entries
    .filter(([, v]) => v.deprecated)
    .map(([name, v]) => [`\`${name}\``, v.noEffect ? 'none' : shownDefault(v), v.doc, v.deprecated ?? '']);
  parts.push(
    '### Deprecated\n\nStill accepted, and a value set still applies (except where it has no effect); ' +
      'start-up logs a warning for each one set.\n\n' +
      table(['variable', 'value without it', 'what it sets', 'instead'], folded),
  );
  return parts.join('\n\n');
}

/** `markdown` with the text between the markers replaced by the generated tables. */
export function withConfigTables(markdown: string): string {
  const start = markdown.indexOf(BEGIN);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the config markers are missing:\n${BEGIN}\n${END}`);
  return `${markdown.slice(0, start + BEGIN.length)}\n\n${renderConfigTables()}\n\n${markdown.slice(end)}`;
}
