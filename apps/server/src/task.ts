// One generating request, from admission to the last byte: the bounded queue, abort when the client
// goes away, metrics, and the answer as one JSON body or as server-sent events in OpenAI's chunk format
// ending with `data: [DONE]`. The routes only say how to start their task and how to shape its output.
import { Readable } from 'node:stream';
import { AbortedError } from '@bminf/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import type { ServerContext } from './context.js';
import type { ServedModel } from './served-model.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** What identifies a response and its chunks (OpenAI's id, created, model). */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/** A route's task: the engine's stream, and how its chunks and result look in the API. */
export interface Task<C, R> {
  start(served: ServedModel, signal: AbortSignal): AsyncGenerator<C, R, void>;
  /** Tokens a chunk carries (for the metrics). */
  tokens(chunk: C): number;
  usage(result: R): Usage;
  /** The SSE payload of a chunk, or null to send nothing (a chunk whose text is held back). */
  chunk(chunk: C, meta: ResponseMeta, first: boolean): object | null;
  /** The last SSE payload: finish reason and usage. */
  last(result: R, meta: ResponseMeta): object;
  /** The whole answer when not streaming. */
  body(result: R, meta: ResponseMeta): object;
}

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

const sse = (payload: object | string) => `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;

/** Serves a task: admission (429 when full), generation, and the JSON or SSE answer. */
export async function runTask<C, R>(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  task: Task<C, R>,
  options: { stream: boolean; idPrefix: string },
): Promise<unknown> {
  const served = ctx.ready();
  if (!ctx.admission.tryEnter()) {
    throw new HttpError(
      429,
      `The server is busy: ${ctx.admission.maxBatch} requests are generating and ${ctx.admission.maxQueue} waiting, the most it takes. Retry later.`,
      'rate_limit_error',
      'queue_full',
    );
  }
  const abort = new AbortController();
  const it = task.start(served, abort.signal);
  // Closes the engine's sequence (freeing its slot) and the place in the queue, once.
  let finished = false;
  let streaming = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    ctx.admission.leave();
    await it.return(undefined as R);
  };
  // The client going away before the answer is complete aborts the generation; an SSE stream that
  // never started reading cannot notice, so it is finished here.
  reply.raw.on('close', () => {
    if (reply.raw.writableFinished) return;
    abort.abort();
    if (!streaming) void finish();
  });
  const meta: ResponseMeta = { id: newId(options.idPrefix), created: Math.floor(Date.now() / 1000), model: served.id };
  const next = async () => {
    const r = await it.next();
    if (!r.done) ctx.metrics.generated(task.tokens(r.value));
    else {
      const u = task.usage(r.value);
      ctx.metrics.prompt(u.prompt_tokens);
      request.usage = u;
    }
    return r;
  };
  try {
    // The first chunk is awaited before answering, so that a bad prompt still gets its 400 (and a
    // request aborted while queued, nothing).
    const first = await next();
    if (!options.stream) {
      let r = first;
      while (!r.done) r = await next();
      await finish();
      return task.body(r.value, meta);
    }
    reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache').header('x-accel-buffering', 'no');
    const body = events(first, next, task, meta, () => {
      streaming = true;
    }, finish);
    return reply.send(Readable.from(body, { objectMode: false }));
  } catch (e) {
    await finish();
    throw e;
  }
}

async function* events<C, R>(
  first: IteratorResult<C, R>,
  next: () => Promise<IteratorResult<C, R>>,
  task: Task<C, R>,
  meta: ResponseMeta,
  started: () => void,
  finish: () => Promise<void>,
): AsyncGenerator<string> {
  started();
  try {
    let r = first;
    let isFirst = true;
    while (!r.done) {
      const payload = task.chunk(r.value, meta, isFirst);
      if (payload) {
        yield sse(payload);
        isFirst = false;
      }
      r = await next();
    }
    yield sse(task.last(r.value, meta));
    yield sse('[DONE]');
  } catch (e) {
    // Headers are sent: an error can only be reported in the stream (OpenAI clients raise it).
    if (!(e instanceof AbortedError)) yield sse({ error: { message: e instanceof Error ? e.message : String(e), type: 'server_error', param: null, code: null } });
  } finally {
    await finish();
  }
}
