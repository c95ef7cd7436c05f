import type { Admission } from './admission.js';
import { HttpError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import type { ServedModel } from './served-model.js';
import type { Usage } from './task.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Token counts of a generating request, for its log line. */
    usage?: Usage;
  }
}

/** What the routes share: the model once loaded, the queue, the metrics. */
export class ServerContext {
  served: ServedModel | null = null;
  readonly metrics = new ServerMetrics(() => this.served);

  constructor(readonly admission: Admission) {}

  /** The model, or a 503 while it loads. */
  ready(): ServedModel {
    if (!this.served) throw new HttpError(503, 'The model is still loading; retry in a moment (GET /health says when it is ready).', 'server_error', 'loading');
    return this.served;
  }
}
