import { type Backend, ShapeMismatchError, type Tensor, shapeToString, tidy } from '@bminf/core';
import type { LayerNorm } from './layer-norm.js';

/** A linear layer's parameters: float weights, or BMInf's int8 weights with one float16 scale per row. */
export type LinearParams =
  | { kind: 'float'; weight: Tensor; bias: Tensor | null }
  | { kind: 'int8'; weight: Tensor; scale: Tensor; bias: Tensor | null };

/**
 * y = x Wᵀ + b for x [n, in] and W [out, in]. The int8 form is W8A8 as BMInf does it: each row of x is
 * quantized at run time (absmax/127 per row), multiplied with the int8 weight in an integer GEMM, and
 * the int32 result scaled back by the row's and the weight row's scales (bias fused there).
 */
export class Linear {
  constructor(
    readonly backend: Backend,
    readonly params: LinearParams,
  ) {}

  get inFeatures(): number {
    return this.params.weight.shape[1];
  }
  get outFeatures(): number {
    return this.params.weight.shape[0];
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new ShapeMismatchError(
        `Linear: expected input [n, ${this.inFeatures}] but received ${shapeToString(x.shape)}.`,
      );
    }
    const b = this.backend;
    const p = this.params;
    if (p.kind === 'float') {
      return tidy(() => {
        const y = b.gemm(x, p.weight, { transB: true });
        return p.bias ? b.add(y, p.bias) : y;
      });
    }
    return tidy(() => {
      const dtype = x.dtype === 'float32' ? 'float32' : 'float16';
      const opts = { dtype, ...(p.bias ? { bias: p.bias } : {}) } as const;
      if (b.linearInt8) return b.linearInt8(b.contiguous(x), p.weight, p.scale, opts);
      const q = b.quantizeRows(b.contiguous(x));
      const acc = b.igemm(q.values, p.weight);
      return b.dequantize(acc, q.scales, p.scale, opts);
    });
  }

  /**
   * residual + forward(x), rounded as add(residual, forward(x)) would round it; one kernel where the
   * backend fuses the add into its int8 linear (a decode step's residual connections).
   */
  forwardAdd(x: Tensor, residual: Tensor): Tensor {
    const b = this.backend;
    const p = this.params;
    if (p.kind === 'int8' && b.linearInt8 && x.rank === 2 && x.shape[1] === this.inFeatures && residual.dtype === x.dtype) {
      const opts = { dtype: x.dtype === 'float32' ? 'float32' : 'float16', residual, ...(p.bias ? { bias: p.bias } : {}) } as const;
      return tidy(() => (b.linearInt8 as NonNullable<Backend['linearInt8']>)(b.contiguous(x), p.weight, p.scale, opts));
    }
    return tidy(() => b.add(residual, this.forward(x)));
  }

  /**
   * forward(norm.forward(x)) (gelu of it with `gelu`), plus residual when given (as forwardAdd rounds
   * it). Where the backend has an int8 linear, the norm (RMS, or LayerNorm with mean and bias) and the
   * GELU are fused into it (one kernel for a decode step's few rows); the norm's sums may then be added
   * in another order than layerNorm's.
   */
  forwardNormed(norm: LayerNorm, x: Tensor, residual?: Tensor, options: { gelu?: boolean } = {}): Tensor {
    const b = this.backend;
    const p = this.params;
    const gelu = options.gelu === true;
    if (p.kind === 'int8' && b.linearInt8 && x.rank === 2 && x.shape[1] === this.inFeatures && (!residual || residual.dtype === x.dtype)) {
      const normOption = rmsOnly(norm)
        ? { rmsNorm: { weight: norm.weight, eps: norm.eps } }
        : norm.subtractMean
          ? { layerNorm: { weight: norm.weight, eps: norm.eps, ...(norm.bias ? { bias: norm.bias } : {}) } }
          : null;
      if (normOption) {
        const opts = {
          dtype: x.dtype === 'float32' ? 'float32' : 'float16',
          ...normOption,
          ...(gelu ? { gelu: true } : {}),
          ...(p.bias ? { bias: p.bias } : {}),
          ...(residual ? { residual } : {}),
        } as const;
        return tidy(() => (b.linearInt8 as NonNullable<Backend['linearInt8']>)(b.contiguous(x), p.weight, p.scale, opts));
      }
    }
    return tidy(() => {
      const h = norm.forward(x);
      if (!gelu) return residual ? this.forwardAdd(h, residual) : this.forward(h);
      const y = b.gelu(this.forward(h));
      return residual ? b.add(residual, y) : y;
    });
  }

  dispose(): void {
    this.params.weight.dispose();
    if (this.params.kind === 'int8') this.params.scale.dispose();
    this.params.bias?.dispose();
  }
}

/** Whether a LayerNorm is an RMS norm (no mean subtracted, no bias): the form linearInt8 can fuse. */
export function rmsOnly(norm: LayerNorm): boolean {
  return !norm.subtractMean && norm.bias === null;
}
