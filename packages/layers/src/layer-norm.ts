import type { Backend, Tensor } from '@bminf/core';

/** LayerNorm (CPM-1: subtracts the mean, has a bias) or RMS norm (CPM-2/EVA: neither). */
export class LayerNorm {
  constructor(
    readonly backend: Backend,
    readonly weight: Tensor,
    readonly bias: Tensor | null,
    readonly eps: number,
    readonly subtractMean = true,
  ) {}

  forward(x: Tensor): Tensor {
    return this.backend.layerNorm(x, this.weight, this.bias, { eps: this.eps, subtractMean: this.subtractMean });
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}
