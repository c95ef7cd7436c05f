// Drawing a token from float32 logits natively (native/src/cpu/sample.cc): the sampler's penalties,
// temperature, top-k and top-p and its inverse-CDF draw, the steps of the reference in
// packages/models/src/generation (sampling-distribution.ts), in float64. In JavaScript a draw over
// CPM-2's 26 240 logits took 0.45-0.95 ms, paid per sequence per step on a server's one JS thread.
import { InvalidArgumentError } from '@bminf/core';
import { nativeCpu as N } from './native.js';

/** What a draw applies: the penalties' ids and counts (np pairs), and the resolved sampling options. */
export interface NativeSampleParams {
  penaltyIds: Int32Array;
  penaltyCounts: Int32Array;
  frequencyPenalty: number;
  presencePenalty: number;
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
}

function call(logits: Float32Array, p: NativeSampleParams, u: number) {
  if (!(logits instanceof Float32Array)) throw new InvalidArgumentError('sampleFloat32: logits must be a Float32Array.');
  if (p.penaltyIds.length !== p.penaltyCounts.length) {
    throw new InvalidArgumentError(`sampleFloat32: ${p.penaltyIds.length} penalty ids but ${p.penaltyCounts.length} counts.`);
  }
  return N.sample(
    logits, 0, logits.length, p.penaltyIds, p.penaltyCounts, p.penaltyIds.length,
    // a top-k of the whole vocabulary or more keeps everything, as 0 does (and stays an index natively)
    p.frequencyPenalty, p.presencePenalty, p.temperature, Math.min(p.topK, logits.length), p.topP, u,
  );
}

/** The token that the uniform draw u in [0, 1) picks; -1 when every logit is NaN or -Infinity. */
export function sampleFloat32(logits: Float32Array, params: NativeSampleParams, u: number): number {
  if (!(u >= 0 && u < 1)) throw new InvalidArgumentError(`sampleFloat32: u must lie in [0, 1), not ${u}.`);
  return call(logits, params, u) as number;
}

/** The distribution sampleFloat32 draws from (ascending ids, probabilities summing to 1); null when no token can be chosen. */
export function samplingDistributionFloat32(logits: Float32Array, params: NativeSampleParams): { ids: Int32Array; probs: Float64Array } | null {
  return call(logits, params, -1) as { ids: Int32Array; probs: Float64Array } | null;
}
