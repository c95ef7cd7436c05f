import { type Backend, ShapeMismatchError, type Tensor, tidy } from '@bminf/core';
import type { Linear } from '../linear.js';

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

  /** out(gelu(in(x)) ⊙ gate(x)), plus residual (fused where the backend can) when given. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const b = this.backend;
    const inputs = this.inputs;
    return tidy(() => {
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
