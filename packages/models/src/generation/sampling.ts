// Choosing the next token from a model's logits: greedy (argmax) or a seeded random draw after
// BMInf's penalties, temperature, top-k and top-p. The generation loop creates one Sampler per
// request and a TokenCounts seeded with the prompt, adding each new token to it.

import { InvalidArgumentError } from '@bminf/core';
import { type NativeSampleParams, sampleFloat32 } from '@bminf/kernels';
import { Xoshiro128StarStar, randomSeed } from './rng.js';
import type { TokenCounts } from './sampling-counts.js';
import { applyPenalties, argmax, checkLogits, noChoice, penaltyArrays, samplingDistribution } from './sampling-distribution.js';
import type { Logits } from './sampling-distribution.js';
import { type ResolvedSamplingOptions, type SamplingOptions, validateSamplingOptions } from './sampling-options.js';

export { Xoshiro128StarStar, randomSeed } from './rng.js';
export { TokenCounts } from './sampling-counts.js';
export { applyPenalties, argmax, greedyId, samplingDistribution } from './sampling-distribution.js';
export type { Distribution, Logits } from './sampling-distribution.js';
export { validateSamplingOptions } from './sampling-options.js';
export type { ResolvedSamplingOptions, SamplingOptions } from './sampling-options.js';

/** A random draw made ahead of its logits: what sampleFloat32 / sampleRowsFloat32 need besides them. */
export interface SampleDraw {
  params: NativeSampleParams;
  u: number;
}

export interface Sampler {
  /** The options in effect, defaults filled in. */
  readonly options: ResolvedSamplingOptions;
  /** The seed of the draws (a random one when none was given; undefined when greedy). */
  readonly seed: number | undefined;
  /** Picks the next token id. `counts` (the tokens so far) feeds the penalties. */
  sample(logits: Logits, counts?: TokenCounts): number;
  /**
   * The next draw without its logits yet (not for greedy samplers): its uniform number, taken from the
   * stream as sample() would take it, and the penalties of `counts` over a vocabulary of `vocab`.
   * sampleFloat32(logits, draw.params, draw.u) then gives the token sample(logits, counts) would, so
   * an engine can sample a whole step's sequences in one call.
   */
  draw?(counts: TokenCounts | undefined, vocab: number): SampleDraw;
}

/** Validates the options (InvalidArgumentError naming the bad one) and returns a sampler. */
export function createSampler(opts: SamplingOptions = {}): Sampler {
  const options = validateSamplingOptions(opts);
  if (options.greedy) {
    return {
      options,
      seed: undefined,
      sample(logits, counts) {
        checkLogits(logits);
        checkCounts(counts);
        // Without penalties, straight over the logits: no float64 copy of the vocabulary per token.
        if (options.frequencyPenalty === 0 && options.presencePenalty === 0) return argmax(logits);
        return argmax(applyPenalties(logits, counts, options.frequencyPenalty, options.presencePenalty));
      },
    };
  }
  const seed = options.seed ?? randomSeed();
  const rng = new Xoshiro128StarStar(seed);
  const { frequencyPenalty, presencePenalty, temperature, topK, topP } = options;
  const params = (counts: TokenCounts | undefined, vocab: number): NativeSampleParams => ({
    ...penaltyArrays(counts, vocab, frequencyPenalty, presencePenalty),
    frequencyPenalty, presencePenalty, temperature, topK, topP,
  });
  return {
    options,
    seed,
    draw(counts, vocab) {
      checkCounts(counts);
      return { params: params(counts, vocab), u: rng.nextFloat64() };
    },
    sample(logits, counts) {
      checkCounts(counts);
      checkLogits(logits);
      const u = rng.nextFloat64();
      // A model's float32 logits: natively (sample.cc), the same steps as samplingDistribution.
      if (logits instanceof Float32Array) {
        const id = sampleFloat32(logits, params(counts, logits.length), u);
        return id < 0 ? noChoice() : id;
      }
      const { ids, probs } = samplingDistribution(logits, counts, options);
      // Inverse CDF over ascending ids; the fallback covers a u that rounding puts past the end.
      let cum = 0;
      for (let j = 0; j < ids.length; j++) {
        cum += probs[j];
        if (u < cum) return ids[j];
      }
      for (let j = ids.length - 1; j > 0; j--) if (probs[j] > 0) return ids[j];
      return ids[0];
    },
  };
}

function checkCounts(counts: unknown): void {
  if (counts !== undefined && (counts === null || typeof (counts as TokenCounts).entries !== 'function')) {
    throw new InvalidArgumentError('Expected counts to be a TokenCounts (or undefined).');
  }
}
