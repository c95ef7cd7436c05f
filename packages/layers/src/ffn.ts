import { type Backend, type Tensor, tidy } from '@bminf/core';
import type { Linear } from './linear.js';

/** GPT-2's feed-forward block: out(gelu(in(x))), tanh-approximated GELU, biases in the Linears. */
export class FeedForward {
  constructor(
    readonly backend: Backend,
    readonly input: Linear,
    readonly output: Linear,
  ) {}

  forward(x: Tensor): Tensor {
    return tidy(() => this.output.forward(this.backend.gelu(this.input.forward(x))));
  }

  dispose(): void {
    this.input.dispose();
    this.output.dispose();
  }
}
