import { AbortedError, InvalidArgumentError } from '@bminf/core';
import type { EngineSequence } from '../engine/engine.js';
import type { CausalLM } from './causal-lm.js';
import { incrementalText } from './incremental-text.js';
import { type SamplingOptions, TokenCounts, createSampler, greedyId, validateSamplingOptions } from './sampling.js';
import { StopStringMatcher } from './stop-strings.js';
import { disposedWhenAbandoned } from './abandoned.js';

export interface GenerateOptions extends SamplingOptions {
  /** New tokens at most (default 64); generation also ends at the context's end. */
  maxTokens?: number;
  /** Generation ends when the text contains one of these; the text is cut before it. */
  stop?: string[];
  /** Token ids that end generation (default: the model's eos). They are kept in `ids`, not in `text`. */
  stopTokens?: number[];
  signal?: AbortSignal;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface GenerateChunk {
  /** The token just generated. */
  id: number;
  /** The text it completed (may be empty while a character or a possible stop string is incomplete). */
  text: string;
}

export interface GenerateResult {
  promptIds: number[];
  /** Every generated id, a final stop token included. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
  /** Generated tokens per second of wall time, prefill included. */
  tokensPerSecond: number;
  prefillSeconds: number;
}

function checkOptions(o: GenerateOptions): void {
  if (o.maxTokens !== undefined && (!Number.isInteger(o.maxTokens) || o.maxTokens < 1)) {
    throw new InvalidArgumentError(`maxTokens must be a positive integer, but is ${o.maxTokens}.`);
  }
  if (o.stop && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string' || s.length === 0))) {
    throw new InvalidArgumentError('stop must be an array of non-empty strings.');
  }
  validateSamplingOptions(o);
}

// The loop only hands the state a model made back to that model, so its type need not be known here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCausalLM = CausalLM<any>;

const nextTick = () => new Promise<void>((r) => setImmediate(r));

/** What the generation loop needs to know of a model besides its forward pass. */
export type GenerationModel = Pick<AnyCausalLM, 'contextLength' | 'vocabSize' | 'eosId' | 'encode' | 'decode' | 'streamDecoder'>;

/** A sequence over a causal LM's own state, one forward after another (no engine). */
export function soloSequence(model: AnyCausalLM): EngineSequence {
  const state = model.newState();
  return {
    forward: async (ids) => model.forward(ids, state),
    get length() {
      return state.length;
    },
    close: () => state.dispose(),
  };
}

/**
 * Streams a continuation of `prompt` token by token as an async iterator; its return value (the
 * `value` of the final `done` result) is the whole GenerateResult, and the chunks' texts joined equal
 * its `text`. The loop yields to the event loop between tokens, so an AbortSignal (or a server's other
 * requests) gets its turn. Stop early with `return()` (or `break` out of `for await`): that frees the
 * model state at once; an iterator merely dropped frees it only when garbage-collected.
 */
export function streamGenerate(
  model: AnyCausalLM,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerateChunk, GenerateResult, void> {
  return streamGenerateOn(model, async () => soloSequence(model), prompt, options);
}

/**
 * The generation loop over any source of sequences: `open` gives the sequence the prompt is fed to
 * (an engine's, for batched decoding, or soloSequence). Abandoned iterators close their sequence when
 * collected (see streamGenerate).
 */
export function streamGenerateOn(
  model: GenerationModel,
  open: () => Promise<EngineSequence>,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerateChunk, GenerateResult, void> {
  return disposedWhenAbandoned((hold) => generateLoop(model, open, prompt, options, hold));
}

async function* generateLoop(
  model: GenerationModel,
  open: () => Promise<EngineSequence>,
  prompt: string | readonly number[],
  options: GenerateOptions,
  hold: <D extends { dispose(): void }>(d: D) => D,
): AsyncGenerator<GenerateChunk, GenerateResult, void> {
  checkOptions(options);
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) {
    throw new InvalidArgumentError(`Expected the prompt to be a string or an array of token ids but received ${prompt === null ? 'null' : typeof prompt}.`);
  }
  const promptIds = typeof prompt === 'string' ? model.encode(prompt) : [...prompt];
  if (promptIds.length === 0) throw new InvalidArgumentError('The prompt is empty.', { hint: 'Give at least one character of text.' });
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new InvalidArgumentError(`Prompt token id ${id} is out of range (vocabulary: 0..${model.vocabSize - 1}).`);
    }
  }
  if (promptIds.length >= model.contextLength) {
    throw new InvalidArgumentError(
      `The prompt is ${promptIds.length} tokens, but the model's context holds ${model.contextLength} (the prompt and at least one new token must fit).`,
      { hint: 'Shorten the prompt.' },
    );
  }
  const maxTokens = options.maxTokens ?? 64;
  const stopTokens = new Set(options.stopTokens ?? [model.eosId]);
  const sampler = createSampler(options);
  const plainGreedy = sampler.options.greedy && sampler.options.frequencyPenalty === 0 && sampler.options.presencePenalty === 0;
  const counts = new TokenCounts(promptIds);
  const stops = new StopStringMatcher(options.stop ?? []);
  const ids: number[] = [];
  const textWith = incrementalText(model);
  let text = '';
  let emitted = 0;
  let finishReason: FinishReason = 'length';
  const t0 = performance.now();
  let prefillSeconds = 0;
  if (options.signal?.aborted) throw new AbortedError('Generation was aborted.');
  const state = await open();
  hold({ dispose: () => state.close() });
  try {
    let input: readonly number[] = promptIds;
    for (;;) {
      if (options.signal?.aborted) throw new AbortedError('Generation was aborted.');
      // Greedy without penalties needs only the argmax, which an engine's runner may take on the GPU; a
      // draw is made ahead where the engine samples a step's sequences together (the same token).
      const out =
        plainGreedy && state.forwardArgmax
          ? await state.forwardArgmax(input)
          : sampler.draw && state.forwardSample
            ? await state.forwardSample(input, sampler.draw(counts, model.vocabSize))
            : await state.forward(input);
      if (ids.length === 0) prefillSeconds = (performance.now() - t0) / 1000;
      const id = typeof out === 'number' ? greedyId(out) : sampler.sample(out, counts);
      ids.push(id);
      counts.add(id);
      let last = true;
      if (stopTokens.has(id)) {
        finishReason = 'eos'; // the stop token adds no text
      } else {
        const full = textWith(id);
        const hit = stops.find(full);
        if (hit >= 0) {
          text = full.slice(0, hit);
          finishReason = 'stop';
        } else {
          text = full;
          if (state.length + 1 > model.contextLength) finishReason = 'context';
          else last = ids.length >= maxTokens;
        }
      }
      // Hold back an incomplete character (byte pieces) and a tail that may begin a stop string, while
      // more tokens may follow; the last chunk sends everything still held, so the chunks add up to `text`.
      let safe = last ? text.length : stops.safeLength(text);
      while (!last && safe > emitted && text.charCodeAt(safe - 1) === 0xfffd) safe--;
      const delta = safe > emitted ? text.slice(emitted, safe) : '';
      emitted = Math.max(emitted, safe);
      yield { id, text: delta };
      if (last) break;
      input = [id];
      // Give abort signals and other requests a turn between tokens; an engine's forward does that
      // already (one event-loop turn per token is enough: each costs a poll of the loop).
      if (!state.yieldsToEventLoop) await nextTick();
    }
  } finally {
    state.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { promptIds, ids, text, finishReason, tokensPerSecond: seconds > 0 ? ids.length / seconds : 0, prefillSeconds };
}

/** Generates the whole continuation of `prompt` and returns it (see streamGenerate). */
export async function generate(
  model: AnyCausalLM,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  const it = streamGenerate(model, prompt, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
