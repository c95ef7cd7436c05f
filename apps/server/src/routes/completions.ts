import type { FastifyInstance } from 'fastify';
import type { GenerateChunk, GenerateResult } from '@bminf/models';
import type { ServerContext } from '../context.js';
import { toGenerateOptions } from '../sampling.js';
import { CompletionBody } from '../schemas.js';
import { type Task, runTask, usage } from '../task.js';

/** The models' finish reasons in OpenAI's words: the text ended (eos, a stop string) or was cut. */
export const openAiFinish = (reason: string): 'stop' | 'length' => (reason === 'length' || reason === 'context' ? 'length' : 'stop');

/** POST /v1/completions: continues the prompt (CPM-1; CPM-2 and EVA by prefix continuation). */
export function completionsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: CompletionBody } }, (request, reply) => {
    const body = request.body;
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0];
    const choice = (text: string, finish: string | null) => ({ index: 0, text, logprobs: null, finish_reason: finish });
    const task: Task<GenerateChunk, GenerateResult> = {
      start: (served, signal) => served.engine.generate(prompt, toGenerateOptions(body, signal)),
      tokens: () => 1,
      usage: (r) => usage(r.promptIds.length, r.ids.length),
      chunk: (c, meta) => (c.text ? { ...meta, object: 'text_completion', choices: [choice(c.text, null)] } : null),
      last: (r, meta) => ({ ...meta, object: 'text_completion', choices: [choice('', openAiFinish(r.finishReason))], usage: task.usage(r) }),
      body: (r, meta) => ({ ...meta, object: 'text_completion', choices: [choice(r.text, openAiFinish(r.finishReason))], usage: task.usage(r) }),
    };
    return runTask(ctx, request, reply, task, { stream: body.stream ?? false, idPrefix: 'cmpl' });
  });
}
