// The output head's float16 GEMV candidate (head_gemv.cu, dev) against the product's gemm (cublasLt) and
// the CPU's: the same products up to float16 rounding of sums taken in another order. Part of the gpu
// project; skips, saying why, where no usable GPU is present.
import { type Backend, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { both, hostData, randn, relErr, testMemoryLimit } from '../../test-gpu/helpers.js';
import { headGemvKernel } from './head-gemv.mjs';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('dev: the output head GEMV', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  let headGemv: ReturnType<typeof headGemvKernel>;
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 30) });
    cpu = createCpuBackend();
    headGemv = headGemvKernel(gpu);
  });
  afterAll(() => gpu?.dispose());

  it('equals x · wᵀ of the product\'s gemm and of the CPU within float16 rounding, at 1-8 rows and odd widths', () => {
    tidy(() => {
      // CPM-2's head (26 240 x 4096), CPM-1's (30 000 x 2560), an odd row count and a short k
      for (const [n, k] of [[26240, 4096], [30000, 2560], [1001, 1032], [7, 8]]) {
        const [wc, wg] = both(cpu, gpu, hostData(randn(n * k, 0.05), 'float16'), [n, k]);
        for (const rows of [1, 2, 3, 5, 8]) {
          const [xc, xg] = both(cpu, gpu, hostData(randn(rows * k, 1), 'float16'), [rows, k]);
          const got = gpu.download(headGemv(xg, wg));
          const tag = `${rows} x ${n} x ${k}`;
          expect(relErr(got, gpu.download(gpu.gemm(xg, wg, { transB: true }))), `${tag} against cublasLt`).toBeLessThan(4e-3);
          expect(relErr(got, cpu.download(cpu.gemm(xc, wc, { transB: true }))), `${tag} against the CPU`).toBeLessThan(4e-3);
        }
      }
    });
  });
});
