import { type Backend, type ScoreBias, type Tensor, tidy } from '@bminf/core';
import type { SelfAttention } from '../attention.js';
import type { KVCache } from '../kv-cache.js';
import type { LayerNorm } from '../layer-norm.js';
import type { CrossAttention, CrossKV } from './cross-attention.js';
import type { GatedFeedForward } from './gated-ffn.js';

/**
 * A T5 encoder block (pre-norm residuals): x + attn(norm(x)), then + ffn(norm(·)). The attention is
 * bidirectional, unscaled, with the stack's relative position bias.
 */
export class T5EncoderBlock {
  constructor(
    readonly backend: Backend,
    readonly lnAttn: LayerNorm,
    readonly attn: SelfAttention,
    readonly lnFF: LayerNorm,
    readonly ffn: GatedFeedForward,
  ) {}

  /**
   * x [n, d], bias [heads, n, n] or its ScoreBias terms (T5's relative positions by distance, the
   * padding as a key bias) → [n, d]. The norms and the residual adds go to the int8 linears
   * around them where the backend fuses them (the norm into the quantize of the projection after it, the
   * add into the epilogue of the projection before it), the same values as separate ops up to the
   * order of the norm's sums in a GEMV of a few rows.
   */
  forward(x: Tensor, bias: Tensor | ScoreBias): Tensor {
    return tidy(() => {
      const h = this.attn.forward(x, null, { causal: false, bias, norm: this.lnAttn, residual: x });
      return this.ffn.forward(h, h, this.lnFF);
    });
  }

  dispose(): void {
    for (const m of [this.lnAttn, this.attn, this.lnFF, this.ffn]) m.dispose();
  }
}

/**
 * A T5 decoder block: causal self-attention over its KV cache (with the decoder's position bias),
 * cross-attention over the encoder's projected keys/values, then the gated FFN, each pre-norm with a
 * residual.
 */
export class T5DecoderBlock {
  constructor(
    readonly backend: Backend,
    readonly lnAttn: LayerNorm,
    readonly attn: SelfAttention,
    readonly lnCross: LayerNorm,
    readonly cross: CrossAttention,
    readonly lnFF: LayerNorm,
    readonly ffn: GatedFeedForward,
  ) {}

  /**
   * x [n, d] for the tokens after those in `cache` (appended to it); bias [heads, n, cached + n], or
   * its ScoreBias terms (by distance: [heads, n + cached + n - 1]);
   * kv: this layer's cross-attention keys/values.
   */
  forward(x: Tensor, cache: KVCache, bias: Tensor | ScoreBias, kv: CrossKV): Tensor {
    const b = this.backend;
    return tidy(() => {
      let h = b.add(x, this.attn.forward(this.lnAttn.forward(x), cache, { causal: true, bias }));
      h = b.add(h, this.cross.forward(this.lnCross.forward(h), kv));
      return b.add(h, this.ffn.forward(this.lnFF.forward(h)));
    });
  }

  dispose(): void {
    for (const m of [this.lnAttn, this.attn, this.lnCross, this.cross, this.lnFF, this.ffn]) m.dispose();
  }
}
