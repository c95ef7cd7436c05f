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
    p.frequencyPenalty, p.presencePenalty, p.temperature, p.topK, p.topP, u,
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

/** One sequence's draw: its logits, what applies to them, and its uniform number in [0, 1). */
export interface NativeSampleRow {
  logits: Float32Array;
  params: NativeSampleParams;
  u: number;
}

/**
 * sampleFloat32 for every row, in one call whose rows run on the CPU thread pool (a batched decode
 * step's sequences together): the same tokens as one call per row. -1 where a row has no usable logit.
 */
export function sampleRowsFloat32(rows: readonly NativeSampleRow[]): Int32Array {
  const out = new Int32Array(rows.length);
  if (rows.length === 0) return out;
  const params = new Float64Array(rows.length * 6);
  rows.forEach(({ logits, params: p, u }, r) => {
    if (!(logits instanceof Float32Array)) throw new InvalidArgumentError(`sampleRowsFloat32: row ${r}'s logits must be a Float32Array.`);
    params.set([p.frequencyPenalty, p.presencePenalty, p.temperature, p.topK, p.topP, u], r * 6);
  });
  N.sampleRows(rows.map((r) => r.logits), rows.map((r) => r.params.penaltyIds), rows.map((r) => r.params.penaltyCounts), params, out);
  return out;
}
