import type { FastifyInstance } from 'fastify';
import { type FillBlankChunk, type FillBlankResult, SPAN_TOKEN } from '@bminf/models';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { toGenerateOptions } from '../sampling.js';
import { FillBlankBody } from '../schemas.js';
import { type Task, runTask, usage } from '../task.js';

/**
 * POST /v1/fill-blank (CPM-2): fills each <span> of `text`. Streamed, each event is one blank as the
 * model closes it ({"blank", "text", "complete"}); the answer holds `fills` and the filled `text`.
 */
export function fillBlankRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: FillBlankBody }>('/v1/fill-blank', { schema: { body: FillBlankBody } }, (request, reply) => {
    const body = request.body;
    if (ctx.ready().architecture === 'cpm1') {
      throw new HttpError(400, 'fill-blank needs a CPM-2 model; this server serves CPM-1. Use /v1/completions.', 'invalid_request_error', 'unsupported_model');
    }
    const finish = (r: FillBlankResult) => (r.finishReason === 'length' ? 'length' : 'stop');
    const filled = (fills: string[]) => body.text.split(SPAN_TOKEN).map((part, i) => part + (fills[i] ?? '')).join('');
    const task: Task<FillBlankChunk, FillBlankResult> = {
      start: (served, signal) => served.engine.fillBlank(body.text, toGenerateOptions(body, signal)),
      tokens: (c) => c.ids.length,
      usage: (r) => usage(r.encoderIds.length, r.ids.length),
      chunk: (c, meta) => ({ ...meta, object: 'fill_blank.chunk', blank: c.blank, text: c.text, complete: c.complete }),
      last: (r, meta) => ({ ...meta, object: 'fill_blank.chunk', finish_reason: finish(r), usage: task.usage(r) }),
      body: (r, meta) => ({ ...meta, object: 'fill_blank', fills: r.fills, text: filled(r.fills), finish_reason: finish(r), usage: task.usage(r) }),
    };
    return runTask(ctx, request, reply, task, { stream: body.stream ?? false, idPrefix: 'fill' });
  });
}
