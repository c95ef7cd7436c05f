import type { FastifyInstance } from 'fastify';
import { CHAT_STOP, chatPrompt, dialogueContext } from '../chat-template.js';
import type { ServerContext } from '../context.js';
import { toGenerateOptions } from '../sampling.js';
import { ChatBody } from '../schemas.js';
import { type Task, runTask, usage } from '../task.js';
import { openAiFinish } from './completions.js';

/** A chat turn as the engine streams it, whichever model answers. */
interface ChatChunk {
  text: string;
}
interface ChatResult {
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * POST /v1/chat/completions: EVA replies with its dialogue; CPM-1 and CPM-2 continue the transcript
 * of chat-template.ts, stopping where the user's next line would begin.
 */
export function chatRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: ChatBody } }, (request, reply) => {
    const body = request.body;
    const message = (content: string) => ({ role: 'assistant', content });
    const task: Task<ChatChunk, ChatResult> = {
      async *start(served, signal) {
        const options = toGenerateOptions(body, signal);
        if (served.architecture === 'eva') {
          // yield* hands an early return() on to the engine's stream, which frees the slot.
          const { reply: text, finishReason, encoderIds, ids } = yield* served.engine.dialogue(dialogueContext(body.messages), options);
          return { text, finishReason: finishReason === 'sep' ? 'stop' : 'length', promptTokens: encoderIds.length, completionTokens: ids.length };
        }
        const stop = [...(options.stop ?? []), CHAT_STOP];
        const { text, finishReason, promptIds, ids } = yield* served.engine.generate(chatPrompt(body.messages), { ...options, stop });
        return { text, finishReason: openAiFinish(finishReason), promptTokens: promptIds.length, completionTokens: ids.length };
      },
      tokens: () => 1,
      usage: (r) => usage(r.promptTokens, r.completionTokens),
      chunk: (c, meta, first) =>
        c.text ? { ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta: first ? message(c.text) : { content: c.text }, finish_reason: null }] } : null,
      last: (r, meta) => ({ ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: r.finishReason }], usage: task.usage(r) }),
      body: (r, meta) => ({
        ...meta,
        object: 'chat.completion',
        choices: [{ index: 0, message: message(r.text), logprobs: null, finish_reason: r.finishReason }],
        usage: task.usage(r),
      }),
    };
    return runTask(ctx, request, reply, task, { stream: body.stream ?? false, idPrefix: 'chatcmpl' });
  });
}
