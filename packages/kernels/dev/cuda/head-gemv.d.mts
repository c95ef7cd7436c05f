// Types of head-gemv.mjs, for the TypeScript test that uses it.
import type { Tensor } from '@bminf/core';
import type { CudaBackend } from '@bminf/kernels';

export declare function headGemvKernel(gpu: CudaBackend): (x: Tensor, w: Tensor) => Tensor;
