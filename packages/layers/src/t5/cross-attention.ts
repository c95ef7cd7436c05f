import { type Backend, ShapeMismatchError, type Tensor, shapeToString, tidy } from '@bminf/core';
import { attend, splitHeads } from '../attention.js';
import type { Linear } from '../linear.js';

/** Keys and values of one cross-attention layer, projected once from the encoder output. */
export interface CrossKV {
  /** [heads, encoderLength, headDim], packed. */
  keys: Tensor;
  values: Tensor;
}

export interface CrossAttentionParams {
  q: Linear;
  /** Either k and v, or both stacked in one layer ([k; v] rows) so one GEMM projects them. */
  k?: Linear;
  v?: Linear;
  kv?: Linear;
  out: Linear;
  numHeads: number;
  headDim: number;
}

/**
 * Decoder-to-encoder attention without the 1/√d scaling and without a position bias (T5). Its keys
 * and values depend only on the encoder output, so `project` runs once per input and every decoder
 * step reuses the result.
 */
export class CrossAttention {
  constructor(
    readonly backend: Backend,
    readonly params: CrossAttentionParams,
  ) {}

  private get inner(): number {
    return this.params.numHeads * this.params.headDim;
  }

  /** encoderOutput [L, d] → keys/values [heads, L, headDim] (packed copies that outlive the call). */
  project(encoderOutput: Tensor): CrossKV {
    const { q, k, v, kv, numHeads, headDim } = this.params;
    if (encoderOutput.rank !== 2 || encoderOutput.shape[1] !== q.inFeatures) {
      throw new ShapeMismatchError(`CrossAttention: expected the encoder output [L, ${q.inFeatures}] but received ${shapeToString(encoderOutput.shape)}.`);
    }
    const b = this.backend;
    return tidy(() => {
      if (kv) {
        const L = encoderOutput.shape[0];
        const parts = kv.forward(encoderOutput).reshape([L, 2, numHeads, headDim]).permute([1, 2, 0, 3]); // [2, h, L, dh]
        return { keys: b.contiguous(parts.select(0, 0)), values: b.contiguous(parts.select(0, 1)) };
      }
      if (!k || !v) throw new ShapeMismatchError('CrossAttention needs either a stacked kv projection or k and v.');
      return {
        keys: b.contiguous(splitHeads(k.forward(encoderOutput), numHeads)),
        values: b.contiguous(splitHeads(v.forward(encoderOutput), numHeads)),
      };
    });
  }

  /** x [n, d] attending over the projected encoder output → [n, d]. */
  forward(x: Tensor, kv: CrossKV): Tensor {
    const { q, out, numHeads, headDim } = this.params;
    if (x.rank !== 2 || x.shape[1] !== q.inFeatures) {
      throw new ShapeMismatchError(`CrossAttention: expected input [n, ${q.inFeatures}] but received ${shapeToString(x.shape)}.`);
    }
    if (kv.keys.rank !== 3 || kv.keys.shape[0] !== numHeads || kv.keys.shape[2] !== headDim) {
      throw new ShapeMismatchError(
        `CrossAttention: keys must be [${numHeads}, L, ${headDim}] but are ${shapeToString(kv.keys.shape)} (inner size ${this.inner}).`,
      );
    }
    return tidy(() => out.forward(attend(this.backend, splitHeads(q.forward(x), numHeads), kv.keys, kv.values, { scale: 1 })));
  }

  dispose(): void {
    for (const l of [this.params.q, this.params.k, this.params.v, this.params.kv, this.params.out]) l?.dispose();
  }
}
