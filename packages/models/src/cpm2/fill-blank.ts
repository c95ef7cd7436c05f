import { InvalidArgumentError } from '@bminf/core';
import { TokenCounts, createSampler } from '../generation/sampling.js';
import type { EngineSequence } from '../engine/engine.js';
import { disposedWhenAbandoned } from '../generation/abandoned.js';
import { type Cpm2Model, MAX_DECODER_TOKENS } from './model.js';
import { soloCpm2Sequence } from './solo-sequence.js';
import { type Cpm2TaskOptions, checkAborted, filterLogits, nextTick, resolveTaskOptions } from './task-options.js';

export const SPAN_TOKEN = '<span>';
/** BMInf's limit on the blanks of one text. */
export const MAX_SPANS = 16;

export interface FillBlankChunk {
  /** Which blank (0-based) this is. */
  blank: number;
  text: string;
  ids: number[];
  /** false for a blank cut short by maxTokens, an abort or <eod>. */
  complete: boolean;
}

export interface FillBlankResult {
  /** The decoder's tokens after <s>, in order: <s_0> fill₀ <s_1> fill₁ … (the closing sentinel included). */
  ids: number[];
  /** The text of every blank; '' for blanks never reached. */
  fills: string[];
  /** done: every blank closed; length: maxTokens reached; eod: the model ended the text. */
  finishReason: 'done' | 'length' | 'eod';
  encoderIds: number[];
}

/**
 * The encoder input of a fill-in-the-blank text: the i-th `<span>` becomes the sentinel <s_i>.
 * Throws InvalidArgumentError for a text without `<span>` or with more than 16.
 */
export function fillBlankInput(model: Cpm2Model, text: string): { encoderIds: number[]; spans: number } {
  if (typeof text !== 'string') throw new InvalidArgumentError(`fillBlank() takes a string but received ${typeof text}.`);
  const parts = text.split(SPAN_TOKEN);
  const spans = parts.length - 1;
  if (spans === 0) {
    throw new InvalidArgumentError(`The text has no ${SPAN_TOKEN} to fill.`, {
      hint: `Mark each blank with ${SPAN_TOKEN}, e.g. "床前明月${SPAN_TOKEN}，疑是地上霜。".`,
    });
  }
  if (spans > MAX_SPANS) {
    throw new InvalidArgumentError(`The text has ${spans} ${SPAN_TOKEN} blanks; at most ${MAX_SPANS} are supported.`, {
      hint: 'Split the text and fill it in parts.',
    });
  }
  const tok = model.tokenizer;
  const encoderIds: number[] = [];
  parts.forEach((part, i) => {
    encoderIds.push(...tok.encode(part));
    if (i < spans) encoderIds.push(tok.sentinelId(i));
  });
  return { encoderIds, spans };
}

/**
 * CPM-2's fill-in-the-blank (BMInf's fill_blank), streamed blank by blank: each chunk is a blank's
 * fill as soon as the model closes it. The decoder starts from <s> with <s_0> given (as BMInf 0.x
 * did; a trained CPM-2 emits it anyway), then generates fill₀ <s_1> fill₁ … until the sentinel after
 * the last blank, <eod>, or maxTokens. The iterator's return value is the whole FillBlankResult.
 */
export function streamFillBlank(
  model: Cpm2Model,
  text: string,
  options: Cpm2TaskOptions = {},
): AsyncGenerator<FillBlankChunk, FillBlankResult, void> {
  return streamFillBlankOn(model, async (ids) => soloCpm2Sequence(model, ids), text, options);
}

/** streamFillBlank over any source of sequences (an engine's, for batched decoding). */
export function streamFillBlankOn(
  model: Cpm2Model,
  open: (encoderIds: readonly number[]) => Promise<EngineSequence>,
  text: string,
  options: Cpm2TaskOptions = {},
): AsyncGenerator<FillBlankChunk, FillBlankResult, void> {
  return disposedWhenAbandoned((hold) => fillBlankLoop(model, open, text, options, hold));
}

async function* fillBlankLoop(
  model: Cpm2Model,
  open: (encoderIds: readonly number[]) => Promise<EngineSequence>,
  text: string,
  options: Cpm2TaskOptions,
  hold: <D extends { dispose(): void }>(d: D) => D,
): AsyncGenerator<FillBlankChunk, FillBlankResult, void> {
  const tok = model.tokenizer;
  // The decoder starts from <s> <s_0>; the last token sampled is never fed back.
  const { maxTokens, filter } = resolveTaskOptions(options, model.vocabSize, tok.unkId, MAX_DECODER_TOKENS - 2 + 1);
  const { encoderIds, spans } = fillBlankInput(model, text);
  const sampler = createSampler(options);
  const counts = new TokenCounts(encoderIds);
  const ids = [tok.sentinelId(0)];
  const fills: string[] = Array(spans).fill('');
  let blank = 0;
  let current: number[] = [];
  let finishReason: FillBlankResult['finishReason'] = 'length';
  checkAborted(options.signal);
  const state = await open(encoderIds);
  hold({ dispose: () => state.close() });
  try {
    let input = [tok.sodId, tok.sentinelId(0)];
    for (let step = 0; step < maxTokens; step++) {
      const logits = filterLogits(await state.forward(input), filter);
      const id = sampler.sample(logits, counts);
      ids.push(id);
      counts.add(id);
      if (id === tok.sentinelId(blank + 1)) {
        fills[blank] = tok.decode(current);
        yield { blank, text: fills[blank], ids: current, complete: true };
        blank++;
        current = [];
        if (blank === spans) {
          finishReason = 'done';
          break;
        }
      } else if (id === tok.eodId) {
        finishReason = 'eod';
        break;
      } else {
        current.push(id);
      }
      input = [id];
      await nextTick();
      checkAborted(options.signal);
    }
    if (finishReason !== 'done') {
      fills[blank] = tok.decode(current);
      yield { blank, text: fills[blank], ids: current, complete: false };
    }
  } finally {
    state.close();
  }
  return { ids, fills, finishReason, encoderIds };
}

/** fillBlank as one call (see streamFillBlank). */
export async function fillBlank(model: Cpm2Model, text: string, options: Cpm2TaskOptions = {}): Promise<FillBlankResult> {
  const it = streamFillBlank(model, text, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
