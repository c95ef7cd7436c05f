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

  private open = 0;
  private idle: (() => void)[] = [];

  constructor(readonly admission: Admission) {}

  /** A request came in (its response is open until closed()). */
  opened(): void {
    this.open++;
  }

  closed(): void {
    this.open--;
    if (this.open === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Resolves when no response is open. */
  responsesDone(): Promise<void> {
    return this.open === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** The model, or a 503 while it loads. */
  ready(): ServedModel {
    if (!this.served) throw new HttpError(503, 'The model is still loading; retry in a moment (GET /health says when it is ready).', 'server_error', 'loading');
    return this.served;
  }
}
