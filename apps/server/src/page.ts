import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

// The page is plain HTML and JS (no build step) in public/, beside src/ and dist/ alike (this module
// stays at the top of src/ so that the relative path holds in the bundle too).
const page = readFileSync(new URL('../public/index.html', import.meta.url), 'utf8');

/** GET /: the page to try the model in a browser. */
export function pageRoute(app: FastifyInstance): void {
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}
