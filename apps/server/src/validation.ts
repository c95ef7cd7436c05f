import type { FastifySchemaCompiler } from 'fastify';
import type { ZodType } from 'zod';
import { HttpError } from './errors.js';

/**
 * Fastify validates request bodies with the routes' zod schemas: the first issue becomes a 400 that
 * names the field ("temperature: expected number, received string"), with the field in `param`.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<ZodType> =
  ({ schema }) =>
  (data) => {
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    const issue = r.error.issues[0];
    const param = issue.path.map(String).join('.') || null;
    const message = param ? `${param}: ${issue.message}` : `The body: ${issue.message}`;
    return { error: new HttpError(400, message, 'invalid_request_error', 'invalid_value', param) };
  };
