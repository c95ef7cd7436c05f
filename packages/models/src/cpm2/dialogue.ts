import { InvalidArgumentError } from '@bminf/core';
import { TokenCounts, createSampler } from '../generation/sampling.js';
import type { EngineSequence } from '../engine/engine.js';
import { disposedWhenAbandoned } from '../generation/abandoned.js';
import { type Cpm2Model, MAX_DECODER_TOKENS } from './model.js';
import { soloCpm2Sequence } from './solo-sequence.js';
import { type Cpm2TaskOptions, checkAborted, filterLogits, nextTick, resolveTaskOptions } from './task-options.js';

/** EVA keeps the last 256 tokens of the context, as BMInf does. */
export const DIALOGUE_TRUNCATION = 256;

export interface DialogueOptions extends Cpm2TaskOptions {
  /** Encoder tokens kept from the end of the context (default 256). */
  truncation?: number;
}

export interface DialogueChunk {
  id: number;
  text: string;
}

export interface DialogueResult {
  /** The decoder's tokens after <s_0>, the closing <sep> included when the reply ended there. */
  ids: number[];
  reply: string;
  /** sep: the reply ended; length: maxTokens reached. */
  finishReason: 'sep' | 'length';
  encoderIds: number[];
}

/** The encoder input of a dialogue: each turn followed by <sep>, then <s_0>, cut to the last `truncation` tokens. */
export function dialogueInput(model: Cpm2Model, context: readonly string[], truncation = DIALOGUE_TRUNCATION): number[] {
  if (!Array.isArray(context) || context.length === 0) {
    throw new InvalidArgumentError('The dialogue context is empty; it needs at least one turn.', {
      hint: 'Pass the conversation so far as an array of strings, oldest first, e.g. ["你好"].',
    });
  }
  context.forEach((turn, i) => {
    if (typeof turn !== 'string') throw new InvalidArgumentError(`Dialogue turn ${i} is ${typeof turn}; every turn must be a string.`);
  });
  if (!Number.isInteger(truncation) || truncation < 1) {
    throw new InvalidArgumentError(`Expected truncation to be a positive integer but received ${String(truncation)}.`);
  }
  const tok = model.tokenizer;
  const ids: number[] = [];
  for (const turn of context) ids.push(...tok.encode(turn), tok.sepId);
  ids.push(tok.sentinelId(0));
  return ids.length > truncation ? ids.slice(ids.length - truncation) : ids;
}

/**
 * EVA's dialogue (BMInf's EVA.dialogue), streamed token by token: the decoder starts from <s_0> and
 * the reply ends at <sep> (or maxTokens). The iterator's return value is the whole DialogueResult.
 */
export function streamDialogue(
  model: Cpm2Model,
  context: readonly string[],
  options: DialogueOptions = {},
): AsyncGenerator<DialogueChunk, DialogueResult, void> {
  return streamDialogueOn(model, async (ids) => soloCpm2Sequence(model, ids), context, options);
}

/** streamDialogue over any source of sequences (an engine's, for batched decoding). */
export function streamDialogueOn(
  model: Cpm2Model,
  open: (encoderIds: readonly number[]) => Promise<EngineSequence>,
  context: readonly string[],
  options: DialogueOptions = {},
): AsyncGenerator<DialogueChunk, DialogueResult, void> {
  return disposedWhenAbandoned((hold) => dialogueLoop(model, open, context, options, hold));
}

async function* dialogueLoop(
  model: Cpm2Model,
  open: (encoderIds: readonly number[]) => Promise<EngineSequence>,
  context: readonly string[],
  options: DialogueOptions,
  hold: <D extends { dispose(): void }>(d: D) => D,
): AsyncGenerator<DialogueChunk, DialogueResult, void> {
  const tok = model.tokenizer;
  // The decoder starts from <s_0>; the last token sampled is never fed back.
  const { maxTokens, filter } = resolveTaskOptions(options, model.vocabSize, tok.unkId, MAX_DECODER_TOKENS - 1 + 1);
  const encoderIds = dialogueInput(model, context, options.truncation ?? DIALOGUE_TRUNCATION);
  const sampler = createSampler(options);
  const counts = new TokenCounts(encoderIds);
  const ids: number[] = [];
  const reply: number[] = [];
  let finishReason: DialogueResult['finishReason'] = 'length';
  checkAborted(options.signal);
  const state = await open(encoderIds);
  hold({ dispose: () => state.close() });
  try {
    let input = [tok.sentinelId(0)];
    for (let step = 0; step < maxTokens; step++) {
      const logits = filterLogits(await state.forward(input), filter);
      const id = sampler.sample(logits, counts);
      ids.push(id);
      counts.add(id);
      if (id === tok.sepId) {
        finishReason = 'sep';
        break;
      }
      reply.push(id);
      yield { id, text: tok.decode([id]) };
      input = [id];
      await nextTick();
      checkAborted(options.signal);
    }
  } finally {
    state.close();
  }
  return { ids, reply: tok.decode(reply), finishReason, encoderIds };
}

/** dialogue as one call (see streamDialogue). */
export async function dialogue(model: Cpm2Model, context: readonly string[], options: DialogueOptions = {}): Promise<DialogueResult> {
  const it = streamDialogue(model, context, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
