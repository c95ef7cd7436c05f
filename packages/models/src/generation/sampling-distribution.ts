// The steps between a model's logits and the distribution a token is drawn from, as pure functions:
// penalties (BMInf's rule) → temperature → top-k → top-p → renormalisation. All arithmetic is in
// float64 on a copy; the caller's logits are never modified. NaN logits count as -Infinity (never
// chosen); a set of +Infinity logits shares all the probability equally.

import { InvalidArgumentError } from '@bminf/core';
import { argmaxFloat32 } from '@bminf/kernels';
import type { TokenCounts } from './sampling-counts.js';
import type { ResolvedSamplingOptions } from './sampling-options.js';

export type Logits = Float32Array | Float64Array;

/** The tokens that can be drawn (ascending ids) and their probabilities (summing to 1). */
export interface Distribution {
  readonly ids: Int32Array;
  readonly probs: Float64Array;
}

export function checkLogits(logits: unknown): asserts logits is Logits {
  if (!(logits instanceof Float32Array || logits instanceof Float64Array) || logits.length === 0) {
    const what =
      logits instanceof Float32Array || logits instanceof Float64Array
        ? 'an empty array'
        : Object.prototype.toString.call(logits).slice(8, -1);
    throw new InvalidArgumentError(`Expected the logits as a non-empty Float32Array but received ${what}.`);
  }
}

/**
 * `logit[t] − (frequency · count[t] + presence · [count[t] > 0])` for every counted token, as BMInf
 * applies its penalties (counts include the prompt). Returns a float64 copy.
 */
export function applyPenalties(
  logits: Logits,
  counts: TokenCounts | undefined,
  frequencyPenalty: number,
  presencePenalty: number,
): Float64Array {
  const out = new Float64Array(logits);
  if (!counts || (frequencyPenalty === 0 && presencePenalty === 0)) return out;
  for (const [id, count] of counts.entries()) {
    checkCountedId(id, out.length);
    out[id] -= frequencyPenalty * count + presencePenalty * (count > 0 ? 1 : 0);
  }
  return out;
}

/** A counted id must lie in the logits' vocabulary (TokenCounts keeps ids ≥ 0). */
function checkCountedId(id: number, vocab: number): void {
  if (id >= vocab) {
    throw new InvalidArgumentError(`A counted token id (${id}) is outside the logits' vocabulary of ${vocab}.`, {
      hint: 'Count only ids of the model that produced the logits.',
    });
  }
}

/**
 * The counted tokens as the native sampler takes them (ids and counts side by side), checked as
 * applyPenalties checks them; empty when no penalty applies.
 */
export function penaltyArrays(
  counts: TokenCounts | undefined,
  vocab: number,
  frequencyPenalty: number,
  presencePenalty: number,
): { penaltyIds: Int32Array; penaltyCounts: Int32Array } {
  if (!counts || (frequencyPenalty === 0 && presencePenalty === 0)) return NO_PENALTIES;
  const penaltyIds = new Int32Array(counts.size);
  const penaltyCounts = new Int32Array(counts.size);
  let j = 0;
  for (const [id, count] of counts.entries()) {
    checkCountedId(id, vocab);
    penaltyIds[j] = id;
    penaltyCounts[j++] = Math.min(count, 0x7fffffff);
  }
  return { penaltyIds, penaltyCounts };
}
const NO_PENALTIES = { penaltyIds: new Int32Array(0), penaltyCounts: new Int32Array(0) };

/** Below this many values the JS loop is as fast as the call. */
const NATIVE_ARGMAX_MIN = 256;

/** Throws the error of a distribution with no token in it (every logit NaN or -Infinity). */
export function noChoice(): never {
  throw new InvalidArgumentError('Every logit is NaN or -Infinity, so no token can be chosen.', {
    hint: 'The model produced no usable scores (a numerical overflow upstream?).',
  });
}

/** A greedy id taken elsewhere (Backend.argmaxRows), checked as argmax() checks its own: -1 means no choice. */
export function greedyId(i: number): number {
  if (i < 0) noChoice();
  return i;
}

/** Index of the largest value, the lowest index on ties; NaN never wins. */
export function argmax(values: ArrayLike<number>): number {
  // Logits as a model gives them: natively (the same answer; a JS loop over a vocabulary is a tenth
  // of a small model's decode step).
  if (values instanceof Float32Array && values.length >= NATIVE_ARGMAX_MIN) {
    const i = argmaxFloat32(values);
    if (i < 0) noChoice();
    return i;
  }
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  if (best < 0) noChoice(); // all NaN or -Infinity
  return best;
}

/** The distribution to draw from, after penalties, temperature, top-k and top-p. */
export function samplingDistribution(
  logits: Logits,
  counts: TokenCounts | undefined,
  opts: ResolvedSamplingOptions,
): Distribution {
  checkLogits(logits);
  const x = applyPenalties(logits, counts, opts.frequencyPenalty, opts.presencePenalty);
  let max = -Infinity;
  let finite = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v !== v) x[i] = -Infinity; // NaN
    else if (v > -Infinity) {
      finite++;
      if (v > max) max = v;
    }
  }
  if (finite === 0) noChoice();
  if (max === Infinity) return uniformOver(x, (v) => v === Infinity);

  // Top-k: keep values ≥ the k-th largest (temperature scaling does not change the order).
  const k = opts.topK;
  const floor = k > 0 && k < finite ? kthLargest(x, k) : -Infinity;
  const keep = floor > -Infinity ? floor : -Number.MAX_VALUE; // excludes -Infinity either way

  // Candidates with their softmax weights (temperature applied); the maximum has weight exactly 1.
  // (Dividing rather than multiplying by 1/T keeps a subnormal temperature from making 0 · ∞.)
  const temperature = opts.temperature;
  const all = new Int32Array(finite);
  const allW = new Float64Array(finite);
  let count = 0;
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v >= keep) {
      const e = Math.exp((v - max) / temperature);
      all[count] = i;
      allW[count++] = e;
      total += e;
    }
  }
  const candidates = all.subarray(0, count);
  const w = allW.subarray(0, count);

  // Top-p, then renormalise over what is left.
  const kept = opts.topP < 1 ? nucleus(w, total, opts.topP) : null;
  let ids = candidates;
  let probs = w;
  if (kept) {
    ids = new Int32Array(kept.length);
    probs = new Float64Array(kept.length);
    for (let j = 0; j < kept.length; j++) {
      ids[j] = candidates[kept[j]];
      probs[j] = w[kept[j]];
    }
  }
  let sum = 0;
  for (let j = 0; j < probs.length; j++) sum += probs[j];
  for (let j = 0; j < probs.length; j++) probs[j] /= sum;
  return { ids, probs };
}

/** The k-th largest of the non-NaN values (1 ≤ k < their count), through a size-k min-heap. */
function kthLargest(x: Float64Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (size < k) {
      let c = size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (heap[parent] <= v) break;
        heap[c] = heap[parent];
        c = parent;
      }
      heap[c] = v;
    } else if (v > heap[0]) {
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= k) break;
        const m = l + 1 < k && heap[l + 1] < heap[l] ? l + 1 : l;
        if (heap[m] >= v) break;
        heap[c] = heap[m];
        c = m;
      }
      heap[c] = v;
    }
  }
  return heap[0];
}

/**
 * Top-p: sorted by probability (then id), a token is kept while the probability of the tokens
 * before it is below p; the first token is always kept. Returns the kept positions in `w`,
 * ascending. The full vocabulary is not sorted: one pass buckets the weights by binary exponent
 * (the largest weight is 1); the buckets before the one where the running mass reaches p are kept
 * whole (every token in them has less than p above it), those after it are dropped, and only that
 * one bucket is sorted to find the cut.
 */
function nucleus(w: Float64Array, total: number, topP: number): Int32Array {
  const target = topP * total;
  const bucket = exponentBuckets(w);
  const mass = new Float64Array(BUCKETS);
  for (let j = 0; j < w.length; j++) mass[bucket[j]] += w[j];
  // `last`: the first bucket at which the running mass reaches p; `before`: the mass above it.
  let last = BUCKETS - 1;
  let before = 0;
  for (let b = 0; b < BUCKETS; b++) {
    if (before + mass[b] >= target) {
      last = b;
      break;
    }
    before += mass[b];
  }
  let n = 0;
  for (let j = 0; j < w.length; j++) if (bucket[j] === last) n++;
  const values = new Float64Array(n);
  for (let j = 0, i = 0; j < w.length; j++) if (bucket[j] === last) values[i++] = w[j];
  values.sort(); // ascending; walked from the top
  // The cut: the smallest kept weight, and how many tokens of exactly that weight are kept.
  let above = before;
  let cut = values[n - 1];
  let tiesKept = 0;
  for (let r = n - 1; r >= 0; r--) {
    if (r < n - 1 && above >= target) break;
    if (values[r] === cut) tiesKept++;
    else [cut, tiesKept] = [values[r], 1];
    above += values[r];
  }
  const kept = new Int32Array(w.length);
  let count = 0;
  for (let j = 0; j < w.length; j++) {
    if (bucket[j] < last || w[j] > cut) kept[count++] = j;
    else if (w[j] === cut && tiesKept > 0) {
      kept[count++] = j; // equal weights: the lowest ids first
      tiesKept--;
    }
  }
  return kept.subarray(0, count);
}

/**
 * For weights in [0, 1]: 1023 − the binary exponent, read straight from the float64 bits (so it
 * is exact and monotonic: a larger weight never lands in a later bucket). 1 → 0, [0.5, 1) → 1, …,
 * subnormals and 0 → 1023.
 */
function exponentBuckets(w: Float64Array): Uint16Array {
  const out = new Uint16Array(w.length);
  if (LITTLE_ENDIAN && w.byteOffset % 4 === 0) {
    const words = new Uint32Array(w.buffer, w.byteOffset, w.length * 2);
    for (let j = 0; j < w.length; j++) out[j] = 1023 - ((words[2 * j + 1] >>> 20) & 0x7ff);
  } else {
    for (let j = 0; j < w.length; j++) {
      out[j] = w[j] > 0 ? Math.min(1023, -Math.floor(Math.log2(w[j]))) : 1023;
    }
  }
  return out;
}
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const BUCKETS = 1024;

function uniformOver(x: Float64Array, keep: (v: number) => boolean): Distribution {
  const ids: number[] = [];
  for (let i = 0; i < x.length; i++) if (keep(x[i])) ids.push(i);
  return { ids: Int32Array.from(ids), probs: new Float64Array(ids.length).fill(1 / ids.length) };
}
