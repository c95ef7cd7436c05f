import type { GenerateOptions } from '@bminf/models';
import type { SamplingFields } from './schemas.js';

/** Default new tokens when a request names no max_tokens. */
export const DEFAULT_MAX_TOKENS = 64;

/** OpenAI's sampling fields → the models' options: temperature 0 means greedy, as in OpenAI's API. */
export function toGenerateOptions(body: SamplingFields & { stop?: string | string[] | null }, signal: AbortSignal): GenerateOptions {
  const o: GenerateOptions = { maxTokens: body.max_tokens ?? DEFAULT_MAX_TOKENS, signal };
  if (body.temperature === 0) o.greedy = true;
  else if (body.temperature !== undefined) o.temperature = body.temperature;
  if (body.top_p !== undefined) o.topP = body.top_p;
  if (body.top_k !== undefined) o.topK = body.top_k;
  if (body.frequency_penalty !== undefined) o.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty !== undefined) o.presencePenalty = body.presence_penalty;
  if (body.seed !== undefined) o.seed = body.seed;
  if (body.ignore_eos) o.stopTokens = [];
  if (body.stop) o.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  return o;
}
