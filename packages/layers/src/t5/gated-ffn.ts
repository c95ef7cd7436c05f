import { type Backend, ShapeMismatchError, type Tensor, tidy } from '@bminf/core';
import type { LayerNorm } from '../layer-norm.js';
import { type Linear, rmsOnly } from '../linear.js';

/**
 * The two input projections of a gated FFN: separate, or stacked into one layer ([in; gate] rows,
 * [2·dFF, d]) so that one GEMM — one activation quantization in int8 — computes both.
 */
export type GatedInputs = { input: Linear; gate: Linear } | { stacked: Linear };

/**
 * T5 v1.1's gated feed-forward (CPM-2, EVA): out(gelu(in(x)) ⊙ gate(x)), tanh GELU, no biases.
 * In transformers' names: in = wi_0, gate = wi_1, out = wo. The Linears may be float or int8.
 */
export class GatedFeedForward {
  constructor(
    readonly backend: Backend,
    readonly inputs: GatedInputs,
    readonly output: Linear,
  ) {
    if ('stacked' in inputs && inputs.stacked.outFeatures !== 2 * output.inFeatures) {
      throw new ShapeMismatchError(
        `GatedFeedForward: the stacked input projection must give 2 × ${output.inFeatures} features but gives ${inputs.stacked.outFeatures}.`,
      );
    }
  }

  /**
   * out(gelu(in(x)) ⊙ gate(x)), plus residual (fused where the backend can) when given; with `norm`,
   * of norm.forward(x). With stacked int8 inputs and a backend's int8 linear, the GELU and the gate's
   * product are the linear's epilogue (gated), and an RMS norm its prologue: for a decode step's few
   * rows, one kernel for norm, both projections, GELU and product.
   */
  forward(x: Tensor, residual?: Tensor, norm?: LayerNorm): Tensor {
    const b = this.backend;
    const inputs = this.inputs;
    if ('stacked' in inputs && inputs.stacked.params.kind === 'int8' && b.linearInt8 && x.rank === 2 && (!norm || rmsOnly(norm))) {
      const p = inputs.stacked.params;
      const opts = {
        dtype: x.dtype === 'float32' ? 'float32' : 'float16',
        gated: true,
        ...(norm ? { rmsNorm: { weight: norm.weight, eps: norm.eps } } : {}),
        ...(p.bias ? { bias: p.bias } : {}),
      } as const;
      const linear = b.linearInt8;
      return tidy(() => {
        const h = linear.call(b, b.contiguous(x), p.weight, p.scale, opts);
        return residual ? this.output.forwardAdd(h, residual) : this.output.forward(h);
      });
    }
    return tidy(() => {
      if (norm) x = norm.forward(x);
      let h: Tensor;
      if ('stacked' in inputs) {
        const y = inputs.stacked.forward(x); // [n, 2·dFF]: in | gate
        const dff = this.output.inFeatures;
        h = b.mul(b.gelu(y.narrow(1, 0, dff)), y.narrow(1, dff, dff));
      } else {
        h = b.mul(b.gelu(inputs.input.forward(x)), inputs.gate.forward(x));
      }
      return residual ? this.output.forwardAdd(h, residual) : this.output.forward(h);
    });
  }

  dispose(): void {
    if ('stacked' in this.inputs) this.inputs.stacked.dispose();
    else {
      this.inputs.input.dispose();
      this.inputs.gate.dispose();
    }
    this.output.dispose();
  }
}
