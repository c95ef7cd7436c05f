import { AbortedError, InvalidArgumentError } from '@bminf/core';
import { type SamplingOptions, validateSamplingOptions } from '../generation/sampling.js';

/** Options of fillBlank, dialogue and generate: BMInf's sampling options plus limits. */
export interface Cpm2TaskOptions extends SamplingOptions {
  /** Tokens to generate at most (default 128, as BMInf). */
  maxTokens?: number;
  /** Token ids never generated (default: `<unk>`, which BMInf filters out in every task). */
  filterTokens?: number[];
  signal?: AbortSignal;
}

/**
 * The options with defaults; `room` is how many tokens the task's decoder can still generate (its
 * 4096 positions less the tokens it starts from), so a maxTokens that cannot fit fails here, at once,
 * rather than thousands of tokens later.
 */
export function resolveTaskOptions(o: Cpm2TaskOptions, vocabSize: number, unkId: number, room: number): { maxTokens: number; filter: number[] } {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('Expected the options to be an object.');
  validateSamplingOptions(o);
  const maxTokens = o.maxTokens ?? 128;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new InvalidArgumentError(`Expected maxTokens to be a positive integer but received ${String(o.maxTokens)}.`);
  }
  if (maxTokens > room) {
    throw new InvalidArgumentError(`Expected maxTokens to be at most ${room}, the tokens this task's decoder can generate, but received ${maxTokens}.`, {
      hint: `Lower max tokens to ${room} or less.`,
    });
  }
  const filter = o.filterTokens ?? [unkId];
  if (!Array.isArray(filter) || filter.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)) {
    throw new InvalidArgumentError(`Expected filterTokens to be token ids in 0..${vocabSize - 1} but received ${JSON.stringify(o.filterTokens)}.`);
  }
  return { maxTokens, filter };
}

/** Sets the filtered tokens' logits to -Infinity (in place) so that no sampler picks them. */
export function filterLogits(logits: Float32Array, filter: readonly number[]): Float32Array {
  for (const id of filter) logits[id] = -Infinity;
  return logits;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Generation was aborted.');
}

/** Yields to the event loop between tokens, so an AbortSignal (or a server's other work) gets its turn. */
export const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r));
