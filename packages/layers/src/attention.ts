import { type AttentionOptions, type Backend, type ScoreBias, ShapeMismatchError, Tensor, attentionByParts, shapeToString, tidy } from '@bminf/core';
import type { KVCache } from './kv-cache.js';
import type { LayerNorm } from './layer-norm.js';
import type { Linear } from './linear.js';

/** Splits [n, heads*headDim] into a [heads, n, headDim] view (no copy). */
export function splitHeads(x: Tensor, numHeads: number): Tensor {
  const [n, d] = x.shape;
  return x.reshape([n, numHeads, d / numHeads]).permute([1, 0, 2]);
}

/** attend()'s options: scale, causalOffset, the ScoreBias terms (Backend.attention's). */
export type AttendOptions = AttentionOptions;

/** A [heads, n, L] bias, or ScoreBias's terms (a bias by distance, a key bias), as attention options. */
export function scoreBias(bias: Tensor | ScoreBias | undefined): ScoreBias {
  if (!bias) return {};
  if (bias instanceof Tensor) return { bias };
  return {
    ...(bias.bias ? { bias: bias.bias } : {}),
    ...(bias.distanceBias ? { distanceBias: bias.distanceBias } : {}),
    ...(bias.keyBias ? { keyBias: bias.keyBias } : {}),
  };
}

/**
 * Scaled dot-product attention for q [heads, n, headDim] over keys/values [heads, L, headDim]
 * (strided views are fine): softmax(scale·q·kᵀ + bias, causal mask)·v, returned as [n, heads*headDim].
 * Backend.attention where the backend has it (one fused kernel on CUDA), else its composition.
 */
export function attend(backend: Backend, q: Tensor, keys: Tensor, values: Tensor, options: AttendOptions): Tensor {
  return backend.attention ? backend.attention(q, keys, values, options) : attentionByParts(backend, q, keys, values, options);
}

export interface SelfAttentionParams {
  /** Either one fused projection to [q | k | v] (GPT-2's c_attn) or three. */
  qkv?: Linear;
  q?: Linear;
  k?: Linear;
  v?: Linear;
  out: Linear;
  numHeads: number;
  headDim: number;
  scale: number;
}

/** Multi-head self-attention with a KV cache: a prefill of many tokens or a one-token step alike. */
export class SelfAttention {
  constructor(
    readonly backend: Backend,
    readonly params: SelfAttentionParams,
  ) {}

  /**
   * Projects x [n, d] (norm.forward(x) with `norm`: fused into the int8 projection where the backend
   * can, Linear.forwardNormed) to q, k, v, each a [heads, n, headDim] view.
   */
  project(x: Tensor, norm?: LayerNorm): { q: Tensor; k: Tensor; v: Tensor } {
    const { qkv, q, k, v, numHeads, headDim } = this.params;
    const d = numHeads * headDim;
    if (qkv) {
      const y = norm ? qkv.forwardNormed(norm, x) : qkv.forward(x); // [n, 3d]
      const n = x.shape[0];
      const parts = y.reshape([n, 3, numHeads, headDim]).permute([1, 2, 0, 3]); // [3, h, n, dh]
      return { q: parts.select(0, 0), k: parts.select(0, 1), v: parts.select(0, 2) };
    }
    if (!q || !k || !v) throw new ShapeMismatchError('SelfAttention needs either a fused qkv projection or q, k and v.');
    void d;
    if (norm) x = norm.forward(x);
    return { q: splitHeads(q.forward(x), numHeads), k: splitHeads(k.forward(x), numHeads), v: splitHeads(v.forward(x), numHeads) };
  }

  /**
   * x [n, d] → [n, d]. With a cache, the new keys/values are appended and attention covers every cached
   * position; `causal` masks keys after each query's own position. `norm`: of norm.forward(x) (a
   * pre-norm block's norm, fused into the projection where it can be); `residual`: residual + the
   * output, as add(residual, ·) rounds it (fused into the output projection where it can be).
   */
  forward(x: Tensor, cache: KVCache | null, options: { causal: boolean; bias?: Tensor | ScoreBias; norm?: LayerNorm; residual?: Tensor }): Tensor {
    const d = this.params.numHeads * this.params.headDim;
    if (x.rank !== 2 || x.shape[1] !== d) {
      throw new ShapeMismatchError(`SelfAttention: expected input [n, ${d}] but received ${shapeToString(x.shape)}.`);
    }
    return tidy(() => {
      const { q, k, v } = this.project(x, options.norm);
      let keys = k;
      let values = v;
      let offset = 0;
      if (cache) {
        offset = cache.length;
        cache.append(k, v);
        ({ keys, values } = cache.view());
      }
      const ctx = attend(this.backend, q, keys, values, {
        scale: this.params.scale,
        ...(options.causal ? { causalOffset: offset } : {}),
        ...scoreBias(options.bias),
      });
      return options.residual ? this.params.out.forwardAdd(ctx, options.residual) : this.params.out.forward(ctx);
    });
  }

  dispose(): void {
    for (const l of [this.params.qkv, this.params.q, this.params.k, this.params.v, this.params.out]) l?.dispose();
  }
}
