import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

/** GET /health, GET /v1/models and GET /metrics: what the server is and how it is doing. */
export function infoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', (_request, reply) =>
    ctx.served ? { status: 'ok', model: ctx.served.id } : reply.code(503).send({ status: 'loading' }),
  );

  // OpenAI's list, each model with what the page shows: its architecture, device and dtype.
  app.get('/v1/models', () => {
    const s = ctx.ready();
    return {
      object: 'list',
      data: [{ id: s.id, object: 'model', created: s.created, owned_by: 'bminf', architecture: s.architecture, device: s.device, dtype: s.dtype }],
    };
  });

  app.get('/metrics', async (_request, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()));
}
