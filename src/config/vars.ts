/**
 * The kinds of configuration variable (whole number, boolean, one of a list, text, custom) and
 * the reader that turns a spec of them into values. Every parse error is a ConfigError naming
 * the variable as the user set it (an alias, if that is what they used).
 */
import { ConfigError } from './error.ts';

export type Env = Record<string, string | undefined>;

/** Reads another variable's value while computing a default (evaluated on demand). */
export type Lookup = (name: string) => unknown;

/** A default that depends on other variables or the environment; `shows` is the docs text. */
export interface Derived<T> {
  shows: string;
  from: (get: Lookup, env: Env) => T;
}

export interface Var<T> {
  /** Heading of the docs table the variable is listed under (a key of SECTIONS). */
  section: string;
  /** One line for the docs table (Markdown). */
  doc: string;
  default: T | Derived<T>;
  /** What the docs say is accepted, e.g. "`0`-`65535`". */
  accepts: string;
  /** Other names read when this one is unset, e.g. PORT for SERVER_PORT. */
  aliases?: readonly string[] | undefined;
  /**
   * Set: the variable is folded. Still read (an explicit value still applies) but start-up warns
   * with this text, which says what to do instead. Listed in the docs' deprecated table.
   */
  deprecated?: string | undefined;
  /** With `deprecated`: the value no longer has any effect and is not even parsed. */
  noEffect?: boolean | undefined;
  /** Parses a non-empty raw value; throws ConfigError(name, ...) when it is bad. */
  parse: (raw: string, name: string) => T;
}

/** What every kind of variable takes besides its parser. */
export interface Common<T> {
  section: string;
  doc: string;
  default: T | Derived<T>;
  aliases?: readonly string[];
  deprecated?: string;
}

export function isDerived<T>(d: T | Derived<T>): d is Derived<T> {
  return typeof d === 'object' && d !== null && 'from' in d && typeof d.from === 'function';
}

/** A whole number in [min, max], for int() and custom parsers that accept one. */
export function wholeNumber(raw: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function int(o: Common<number> & { min: number; max: number }): Var<number> {
  return {
    ...o,
    accepts: `\`${o.min}\`-\`${o.max}\``,
    parse: (raw, name) => wholeNumber(raw, name, o.min, o.max),
  };
}

export function bool(o: Common<boolean>): Var<boolean> {
  return {
    ...o,
    accepts: '`true`/`false`',
    parse(raw, name) {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(name, `expected true/false, got "${raw}"`);
    },
  };
}

/** One of a fixed list; `ignoreCase` accepts any case and yields the listed spelling. */
export function oneOf<const V extends string>(
  values: readonly V[],
  o: Common<V> & { ignoreCase?: boolean },
): Var<V> {
  return {
    ...o,
    accepts: values.map((v) => `\`${v}\``).join(', '),
    parse(raw, name) {
      const v = raw.trim();
      const found = o.ignoreCase
        ? values.find((a) => a.toLowerCase() === v.toLowerCase())
        : values.find((a) => a === v);
      if (found === undefined)
        throw new ConfigError(name, `expected one of ${values.join(', ')}, got "${raw}"`);
      return found;
    },
  };
}

/** Free text, taken as set (an empty value means the default). */
export function text(o: Common<string>): Var<string> {
  return { ...o, accepts: 'text', parse: (raw) => raw };
}

/** Free text without a default (undefined when unset), e.g. a token. */
export function optionalText(o: Omit<Common<string | undefined>, 'default'>): Var<string | undefined> {
  return { ...o, default: undefined, accepts: 'text', parse: (raw) => raw };
}

/** Anything else: the parser and the docs' "accepts" text are given. */
export function custom<T>(
  o: Common<T> & { accepts: string; parse: (raw: string, name: string) => T },
): Var<T> {
  return o;
}

/** A folded variable that no longer does anything: accepted with a warning, never parsed. */
export function noEffect(o: { section: string; doc: string; deprecated: string }): Var<undefined> {
  return { ...o, default: undefined, accepts: 'ignored', noEffect: true, parse: () => undefined };
}

/** The name a variable was set under (itself or an alias) and its raw value, if set. */
export function sourceOf(name: string, v: Var<unknown>, env: Env): { name: string; raw: string } | undefined {
  for (const n of [name, ...(v.aliases ?? [])]) {
    const raw = env[n];
    // Blank counts as unset, as compose files and `VAR=` lines write it.
    if (raw !== undefined && raw.trim() !== '') return { name: n, raw };
  }
  return undefined;
}

/**
 * Reads every variable of a spec: values (defaults computed on demand, so a default may read
 * other variables in any order) and the deprecation warnings for folded variables that are set.
 */
export function readSpec(
  spec: Readonly<Record<string, Var<unknown>>>,
  env: Env,
): { values: Record<string, unknown>; deprecations: string[] } {
  const values: Record<string, unknown> = {};
  const reading = new Set<string>();
  const get: Lookup = (name) => {
    if (name in values) return values[name];
    const v = spec[name];
    if (!v) throw new Error(`config spec: no variable ${name}`);
    if (reading.has(name)) throw new Error(`config spec: the default of ${name} depends on itself`);
    reading.add(name);
    const src = v.noEffect ? undefined : sourceOf(name, v, env);
    const value = src
      ? v.parse(src.raw, src.name)
      : isDerived(v.default)
        ? v.default.from(get, env)
        : v.default;
    reading.delete(name);
    values[name] = value;
    return value;
  };
  const deprecations: string[] = [];
  for (const [name, v] of Object.entries(spec)) {
    get(name);
    const src = sourceOf(name, v, env);
    if (v.deprecated && src) {
      const state = v.noEffect ? 'has no effect' : 'is deprecated (still applied for now)';
      deprecations.push(`${src.name} ${state}: ${v.deprecated}`);
    }
  }
  return { values, deprecations };
}
