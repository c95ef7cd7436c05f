import { timingSafeEqual } from 'node:crypto';
import type { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { ServerContext } from './context.js';
import { CLIENT_CLOSED, HttpError, errorBody, toHttpError } from './errors.js';
import { pageRoute } from './page.js';
import { chatRoute } from './routes/chat.js';
import { completionsRoute } from './routes/completions.js';
import { fillBlankRoute } from './routes/fill-blank.js';
import { infoRoutes } from './routes/info.js';
import { zodValidatorCompiler } from './validation.js';

/** Request bodies larger than this get 413. */
export const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  /** Bearer token the /v1/ endpoints require. */
  apiKey?: string;
  /** Where the one log line per request goes: false for none, true for stdout (default), or a stream. */
  log?: boolean | Writable;
}

function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Fastify app: hooks (API key, metrics), one log line per request, error shapes, routes. */
export function buildApp(ctx: ServerContext, options: AppOptions): FastifyInstance {
  const log = options.log ?? true;
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    logger: log === false ? false : log === true ? { level: 'info' } : { level: 'info', stream: log },
    // Fastify's two lines per request (incoming, completed) give way to the one of onRequest below.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setValidatorCompiler(zodValidatorCompiler);

  if (options.apiKey !== undefined) {
    const key = options.apiKey;
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/v1/')) return;
      const auth = request.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameKey(auth.slice(7), key)) {
        throw new HttpError(401, 'Missing or wrong API key: send the header "Authorization: Bearer <key>".', 'invalid_request_error', 'invalid_api_key');
      }
    });
  }

  // One log line and one count per request, when its connection is done with it: after the last byte,
  // or when the client went away first (499; Fastify's onResponse does not run then).
  app.addHook('onRequest', async (request, reply) => {
    ctx.opened();
    reply.raw.once('close', () => {
      const status = reply.raw.writableFinished ? reply.statusCode : CLIENT_CLOSED;
      ctx.metrics.request(request.routeOptions.url ?? 'unmatched', status);
      const fields = { status, ms: Math.round(reply.elapsedTime), ...(request.usage ? { usage: request.usage } : {}) };
      request.log.info(fields, `${request.method} ${request.url} ${status}`);
      ctx.closed();
    });
  });

  app.setErrorHandler((error, request, reply) => {
    const e = toHttpError(error);
    if (e.statusCode >= 500) request.log.error(error);
    return reply.code(e.statusCode).send(errorBody(e));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(new HttpError(404, `No such endpoint: ${request.method} ${request.url}.`, 'invalid_request_error', 'not_found'))),
  );

  pageRoute(app);
  infoRoutes(app, ctx);
  completionsRoute(app, ctx);
  chatRoute(app, ctx);
  fillBlankRoute(app, ctx);
  return app;
}
