import { type Backend, type Tensor, tidy } from '@bminf/core';
import type { Linear } from '../linear.js';

/**
 * T5 v1.1's gated feed-forward (CPM-2, EVA): out(gelu(in(x)) ⊙ gate(x)), tanh GELU, no biases.
 * In transformers' names: in = wi_0, gate = wi_1, out = wo. The Linears may be float or int8.
 */
export class GatedFeedForward {
  constructor(
    readonly backend: Backend,
    readonly input: Linear,
    readonly gate: Linear,
    readonly output: Linear,
  ) {}

  forward(x: Tensor): Tensor {
    const b = this.backend;
    return tidy(() => this.output.forward(b.mul(b.gelu(this.input.forward(x)), this.gate.forward(x))));
  }

  dispose(): void {
    this.input.dispose();
    this.gate.dispose();
    this.output.dispose();
  }
}
