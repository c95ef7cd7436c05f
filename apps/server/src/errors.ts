// Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, so that OpenAI clients
// raise their usual typed errors (BadRequestError, AuthenticationError, RateLimitError, ...).
import { AbortedError, BminfError } from '@bminf/core';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(e: HttpError): ErrorBody {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

/** Status 499 (nginx's "client closed request"): the client went away; nothing is sent. */
export const CLIENT_CLOSED = 499;

/** Any error thrown while serving a request → the HttpError to answer with. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof AbortedError) return new HttpError(CLIENT_CLOSED, e.message, 'aborted', 'aborted');
  // The models' argument errors (a prompt longer than the context, a text without <span>, ...).
  if (e instanceof BminfError && e.code === 'INVALID_ARGUMENT') return new HttpError(400, e.message, 'invalid_request_error', 'invalid_argument');
  const f = e as { statusCode?: number; code?: string; message?: string };
  if (typeof f?.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) {
    // Fastify's own client errors: malformed JSON, a body over the limit, a wrong content type.
    const code = f.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large' : f.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'invalid_json' : null;
    return new HttpError(f.statusCode, f.message ?? 'Bad request.', 'invalid_request_error', code);
  }
  return new HttpError(500, f?.message ?? String(e), 'server_error', e instanceof BminfError ? e.code : null);
}
