/**
 * Validator compilers. Bodies are validated strictly (a timestamp sent as "123" is a 400, not
 * silently coerced); query strings and path params are coerced from text ("0" -> 0), since
 * that is all a URL can carry.
 */
import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const common: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false };

const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

/** A standalone validator for bodies that arrive outside a route schema (batches, CMCD). */
export function compileBodyValidator(schema: object) {
  return bodyAjv.compile(schema);
}
