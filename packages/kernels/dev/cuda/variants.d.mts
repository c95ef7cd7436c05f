// Types of variants.mjs, for the TypeScript tests that use it.
import type { Tensor } from '@bminf/core';
import type { CudaBackend } from '@bminf/kernels';

export type QuantizeVariant = 'fast' | 'block' | 'pipelined';
export declare const QUANTIZE_VARIANTS: readonly QuantizeVariant[];

export interface KernelVariants {
  quantizeRowsInto(variant: QuantizeVariant, x: Tensor, values: Tensor, scales: Tensor): void;
  quantizeRows(variant: QuantizeVariant, x: Tensor): { values: Tensor; scales: Tensor };
  dequantizeVec4(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: 'float16' | 'float32'; bias?: Tensor }): Tensor;
}

export declare function kernelVariants(gpu: CudaBackend): KernelVariants;
