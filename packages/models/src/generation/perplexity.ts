import { InvalidArgumentError } from '@bminf/core';

/** A model that scores every position of a sequence at once (no cache). */
export interface ScoringModel {
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Logits of every position, float32 [n * vocab]. */
  forward(ids: readonly number[], state: null, options: { allLogits: true }): Float32Array;
}

export interface PerplexityResult {
  /** Mean next-token cross-entropy (nats) over every prediction of every row. */
  loss: number;
  perplexity: number;
  /** Predictions scored. */
  tokens: number;
  rows: number;
}

/**
 * Cuts ids into consecutive rows of `seq` tokens (a shorter last row is scored too, if it has two
 * tokens) and scores each row on its own, as transformers does with labels = inputs: the mean of
 * -log p(x[t+1] | x[..t]) over all n-1 predictions of every row, with the softmax in float64.
 */
export function perplexity(model: ScoringModel, ids: readonly number[], seq: number): PerplexityResult {
  if (!Number.isInteger(seq) || seq < 2 || seq > model.contextLength) {
    throw new InvalidArgumentError(`seq must be an integer from 2 to the model's context (${model.contextLength}), but is ${seq}.`);
  }
  if (ids.length < 2) throw new InvalidArgumentError('Perplexity needs at least two tokens.');
  const V = model.vocabSize;
  let total = 0;
  let count = 0;
  let rows = 0;
  for (let s = 0; s + 1 < ids.length; s += seq) {
    const row = ids.slice(s, s + seq);
    if (row.length < 2) break;
    const logits = model.forward(row, null, { allLogits: true });
    for (let t = 0; t + 1 < row.length; t++) {
      const base = t * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[base + v] > max) max = logits[base + v];
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[base + v] - max);
      total += max + Math.log(sum) - logits[base + row[t + 1]];
      count++;
    }
    rows++;
  }
  const loss = total / count;
  return { loss, perplexity: Math.exp(loss), tokens: count, rows };
}
