/**
 * Validator compilers. Bodies are validated strictly (a timestamp sent as "123" is a 400, not
 * silently coerced); query strings and path params are coerced from text ("0" -> 0), since
 * that is all a URL can carry, but only from decimal numbers: Ajv alone would read "0x10" as
 * 16 and " " as 0. Numbers must be finite everywhere (strictNumbers: JSON.parse reads 1e400 as
 * Infinity). Messages name the allowed values of an enum rather than Ajv's "must be equal to
 * constant" per alternative.
 */
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const common: Options = {
  allErrors: true,
  useDefaults: true,
  removeAdditional: false,
  strict: false,
  strictNumbers: true,
};

const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });

/** A decimal number as a URL may carry it: no hex, no blanks, no Infinity. */
export const DECIMAL_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (httpPart === 'body')
    return readable(bodyAjv.compile(schema as object)) as ReturnType<FastifySchemaCompiler<unknown>>;
  return strictText(schema as object, readable(textAjv.compile(schema as object))) as ReturnType<
    FastifySchemaCompiler<unknown>
  >;
};

/** A standalone validator for bodies that arrive outside a route schema (batches, CMCD). */
export function compileBodyValidator(schema: object): Validator {
  return readable(bodyAjv.compile(schema));
}

/** Rewrites Ajv's errors into ones a person can act on (see enumErrors, finiteErrors). */
function readable(inner: ValidateFunction): Validator {
  const v: Validator = (data: unknown) => {
    const ok = inner(data) as boolean;
    v.errors = ok ? null : finiteErrors(enumErrors(inner.errors ?? []), data);
    return ok;
  };
  return v;
}

/**
 * An anyOf of constants (TypeBox's union of literals) fails with one "must be equal to
 * constant" per alternative plus "must match a schema in anyOf": fold them into one error
 * listing the allowed values, and say the same for Ajv's enum keyword.
 */
function enumErrors(errors: ErrorObject[]): ErrorObject[] {
  // Per anyOf (instance path + schema path): the constants it allows, or null when one of its
  // alternatives is not a constant (then Ajv's errors are left as they are).
  const unions = new Map<string, unknown[] | null>();
  for (const e of errors) {
    const m = /^(.*)\/anyOf\/\d+\/([^/]+)$/.exec(e.schemaPath);
    if (!m) continue;
    const key = `${e.instancePath}\0${m[1]}`;
    const list = unions.get(key);
    if (e.keyword === 'const' && m[2] === 'const' && list !== null) {
      unions.set(key, [...(list ?? []), e.params.allowedValue]);
    } else {
      unions.set(key, null);
    }
  }
  const folded = (e: ErrorObject, suffix: RegExp) =>
    unions.get(`${e.instancePath}\0${e.schemaPath.replace(suffix, '')}`);
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'const' && folded(e, /\/anyOf\/\d+\/const$/)) continue;
    const allowed = e.keyword === 'anyOf' ? folded(e, /\/anyOf$/) : undefined;
    if (allowed) {
      out.push({ ...e, keyword: 'enum', params: { allowedValues: allowed }, message: oneOf(allowed) });
    } else if (e.keyword === 'enum') {
      out.push({ ...e, message: oneOf(e.params.allowedValues as unknown[]) });
    } else {
      out.push(e);
    }
  }
  return out;
}

const oneOf = (values: unknown[]) => `must be one of ${values.map((v) => String(v)).join(', ')}`;

/** "must be number" for 1e400 (which is a number, just not a finite one) says why instead. */
function finiteErrors(errors: ErrorObject[], data: unknown): ErrorObject[] {
  return errors.map((e) => {
    if (e.keyword !== 'type' || !/number|integer/.test(String(e.params.type))) return e;
    const value = at(data, e.instancePath);
    if (typeof value !== 'number' || Number.isFinite(value)) return e;
    return { ...e, message: 'must be a finite number (1e400 and -1e999 are out of range)' };
  });
}

/** The value at a JSON pointer (undefined when absent). */
function at(data: unknown, pointer: string): unknown {
  let v = data;
  for (const raw of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[raw.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return v;
}

/**
 * Query and path validators: properties the schema says are numbers must be written as
 * decimal numbers (checked on the text, before Ajv coerces it).
 */
function strictText(schema: object, inner: Validator): Validator {
  const numeric = numericProperties(schema);
  if (numeric.length === 0) return inner;
  const v: Validator = (data: unknown) => {
    const errors: ErrorObject[] = [];
    if (data !== null && typeof data === 'object') {
      for (const name of numeric) {
        const raw = (data as Record<string, unknown>)[name];
        const values = Array.isArray(raw) ? raw : [raw];
        if (
          values.some((x) => typeof x === 'string' && !(DECIMAL_NUMBER.test(x) && Number.isFinite(Number(x))))
        ) {
          errors.push({
            instancePath: `/${name}`,
            schemaPath: `#/properties/${name}/type`,
            keyword: 'type',
            params: { type: 'number' },
            message: 'must be a decimal number such as 1700000000 or 1700000000.5',
          });
        }
      }
    }
    if (errors.length > 0) {
      v.errors = errors;
      return false;
    }
    const ok = inner(data);
    v.errors = inner.errors ?? null;
    return ok;
  };
  return v;
}

function numericProperties(schema: object): string[] {
  const props = (schema as { properties?: Record<string, { type?: unknown }> }).properties;
  if (!props) return [];
  return Object.entries(props)
    .filter(([, s]) => s && (s.type === 'number' || s.type === 'integer'))
    .map(([name]) => name);
}
