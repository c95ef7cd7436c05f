import { InvalidArgumentError } from '@bminf/core';
import type { FastifyInstance } from 'fastify';
import { Admission } from './admission.js';
import { type AppOptions, buildApp } from './app.js';
import { ServerContext } from './context.js';
import { type ModelSource, type ServedModel, openServedModel } from './served-model.js';

export interface ServerOptions extends AppOptions {
  model: ModelSource;
  /** Default 127.0.0.1: only this machine can connect unless told otherwise. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Requests decoded together (the engine's batch), default 8. */
  maxBatch?: number;
  /** Requests waiting beyond those, default 32; more get 429. */
  maxQueue?: number;
}

export interface BminfServer {
  /** http://host:port */
  url: string;
  app: FastifyInstance;
  context: ServerContext;
  /** Resolves once the model is loaded (GET /health answers 200 from then on). */
  ready: Promise<ServedModel>;
  /**
   * Drains: stops taking connections, lets the requests in flight finish, then closes the engine and
   * frees a model the server loaded (a model given to it is the caller's).
   */
  close(): Promise<void>;
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, but is ${String(value)}.`);
  }
  return value;
}

/** Starts listening at once (GET /health says 503 while the model loads), then loads the model. */
export async function startServer(options: ServerOptions): Promise<BminfServer> {
  const maxBatch = checkInt('maxBatch', options.maxBatch ?? 8, 1, 256);
  const maxQueue = checkInt('maxQueue', options.maxQueue ?? 32, 0, 1_000_000);
  const port = checkInt('port', options.port ?? 8080, 0, 65535);
  const ctx = new ServerContext(new Admission(maxBatch, maxQueue));
  const app = buildApp(ctx, options);
  const url = await app.listen({ host: options.host ?? '127.0.0.1', port });
  const ready = openServedModel(options.model, maxBatch).then((served) => (ctx.served = served));
  ready.catch(() => {}); // the caller sees a load failure through `ready`; close() must not throw it again
  const close = async () => {
    // Fastify stops listening and closes idle keep-alive connections; once the responses in flight are
    // done, connections that never sent a request (clients open spare ones) are closed too.
    const closing = app.close();
    await ctx.responsesDone();
    app.server.closeAllConnections();
    await closing;
    const served = await ready.catch(() => null);
    if (!served) return;
    await served.engine.close();
    if ('dir' in options.model) served.model.dispose();
  };
  return { url, app, context: ctx, ready, close };
}
