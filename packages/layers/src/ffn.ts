import { type Backend, type Tensor, tidy } from '@bminf/core';
import type { LayerNorm } from './layer-norm.js';
import type { Linear } from './linear.js';

/** GPT-2's feed-forward block: out(gelu(in(x))), tanh-approximated GELU, biases in the Linears. */
export class FeedForward {
  constructor(
    readonly backend: Backend,
    readonly input: Linear,
    readonly output: Linear,
  ) {}

  /** out(gelu(in(x))), plus residual (fused where the backend can) when given. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    return tidy(() => {
      const h = this.backend.gelu(this.input.forward(x));
      return residual ? this.output.forwardAdd(h, residual) : this.output.forward(h);
    });
  }

  /**
   * forward(norm.forward(x), residual): the norm and the GELU fused into the input linear where the
   * backend can (Linear.forwardNormed), the residual into the output linear.
   */
  forwardNormed(norm: LayerNorm, x: Tensor, residual?: Tensor): Tensor {
    return tidy(() => {
      const h = this.input.forwardNormed(norm, x, undefined, { gelu: true });
      return residual ? this.output.forwardAdd(h, residual) : this.output.forward(h);
    });
  }

  dispose(): void {
    this.input.dispose();
    this.output.dispose();
  }
}
