// The request bodies, as zod schemas (Fastify validates with them: see validation.ts). Field names and
// meanings are OpenAI's; unknown fields are dropped (zod's default), so clients that send more parameters
// than bminf uses still work. The sampling fields are shared by every generating endpoint.
import { z } from 'zod';

const sampling = {
  max_tokens: z.number().int().min(1).optional(),
  /** 0 means greedy decoding. */
  temperature: z.number().min(0).max(100).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  frequency_penalty: z.number().min(-100).max(100).optional(),
  presence_penalty: z.number().min(-100).max(100).optional(),
  seed: z.number().int().optional(),
  /** vLLM's extension: keep generating past the end-of-text token, up to max_tokens (timing runs, tests). */
  ignore_eos: z.boolean().optional(),
  n: z.literal(1, { message: 'only n = 1 is supported' }).optional(),
  stream: z.boolean().optional(),
  /** Any name is accepted: the server serves one model. */
  model: z.string().optional(),
};

export type SamplingFields = z.infer<z.ZodObject<typeof sampling>>;

/** A union's issue says what the field should be, not zod's bare "Invalid input". */
const expected = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `required (${what})` : `expected ${what}`),
});

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)], expected('a string or an array of at most 4 strings')).nullish();

export const CompletionBody = z.object({
  ...sampling,
  prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1, { message: 'one prompt per request (n = 1)' })], expected('a string')),
  stop,
});
export type CompletionBody = z.infer<typeof CompletionBody>;

const Message = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof Message>;

export const ChatBody = z.object({
  ...sampling,
  messages: z.array(Message).min(1),
  stop,
});
export type ChatBody = z.infer<typeof ChatBody>;

export const FillBlankBody = z.object({
  ...sampling,
  /** The text with each blank marked <span> (at most 16). */
  text: z.string().min(1),
});
export type FillBlankBody = z.infer<typeof FillBlankBody>;
