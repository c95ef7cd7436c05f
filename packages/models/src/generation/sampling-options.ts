// Sampling options and their validation. Every bad value is reported with the option's name, the
// value received and the allowed range, so a CLI flag or API call can be fixed from the message.

import { InvalidArgumentError } from '@bminf/core';

export interface SamplingOptions {
  /** Always take the most likely token (lowest id on ties). Penalties still apply; nothing else does. */
  greedy?: boolean;
  /** Divides the logits before the softmax (> 0; default 1). Ignored when greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th value are kept); 0 = off (default). */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens until their probability reaches topP (0 < p ≤ 1). */
  topP?: number;
  /** Subtracted from a token's logit once per earlier occurrence (prompt included). Default 0. */
  frequencyPenalty?: number;
  /** Subtracted from a token's logit once it has occurred at all (prompt included). Default 0. */
  presencePenalty?: number;
  /** Seed of the random draws: same seed, same tokens. Default: a random seed. */
  seed?: number;
}

/** Options with every default filled in. */
export interface ResolvedSamplingOptions {
  readonly greedy: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly frequencyPenalty: number;
  readonly presencePenalty: number;
  readonly seed: number | undefined;
}

function bad(name: string, value: unknown, allowed: string, hint?: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new InvalidArgumentError(`Expected ${name} to be ${allowed} but received ${shown}.`, hint ? { hint } : undefined);
}

const isNumber = (v: unknown): v is number => typeof v === 'number';

/** Throws InvalidArgumentError naming the first invalid option; returns the options with defaults. */
export function validateSamplingOptions(opts: SamplingOptions = {}): ResolvedSamplingOptions {
  if (opts === null || typeof opts !== 'object') {
    bad('the sampling options', opts, 'an object');
  }
  const { greedy, temperature, topK, topP, frequencyPenalty, presencePenalty, seed } = opts;
  if (greedy !== undefined && typeof greedy !== 'boolean') bad('greedy', greedy, 'true or false');
  if (temperature !== undefined) {
    if (greedy) {
      if (!isNumber(temperature) || !(temperature >= 0) || temperature === Infinity) {
        bad('temperature', temperature, 'a finite number ≥ 0 (it is ignored when greedy)');
      }
    } else if (!isNumber(temperature) || !(temperature > 0) || temperature === Infinity) {
      bad('temperature', temperature, 'a finite number > 0', 'For argmax decoding pass greedy: true instead of temperature 0.');
    }
  }
  if (topK !== undefined && (!isNumber(topK) || !Number.isSafeInteger(topK) || topK < 0)) {
    bad('topK', topK, 'an integer ≥ 0 (0 turns top-k off)');
  }
  if (topP !== undefined && (!isNumber(topP) || !(topP > 0 && topP <= 1))) {
    bad('topP', topP, 'a number in (0, 1] (1 turns top-p off)');
  }
  if (frequencyPenalty !== undefined && (!isNumber(frequencyPenalty) || !Number.isFinite(frequencyPenalty))) {
    bad('frequencyPenalty', frequencyPenalty, 'a finite number');
  }
  if (presencePenalty !== undefined && (!isNumber(presencePenalty) || !Number.isFinite(presencePenalty))) {
    bad('presencePenalty', presencePenalty, 'a finite number');
  }
  if (seed !== undefined && (!isNumber(seed) || !Number.isSafeInteger(seed))) {
    bad('seed', seed, `an integer in [${Number.MIN_SAFE_INTEGER}, ${Number.MAX_SAFE_INTEGER}]`);
  }
  return {
    greedy: greedy ?? false,
    temperature: temperature ?? 1,
    topK: topK ?? 0,
    topP: topP ?? 1,
    frequencyPenalty: frequencyPenalty ?? 0,
    presencePenalty: presencePenalty ?? 0,
    seed,
  };
}
