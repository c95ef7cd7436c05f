// igemm's COL32 / COL4_4R2_8C / COL32_2R_4R4 path, the one BMInf used on sm_75 to sm_89. On those GPUs
// it must be bit-exact; on Hopper cublasLt has no kernels for these layouts, and the path must fail
// with a clear error (and leave the backend usable). Its own file: its own process.
import { UnsupportedError, tidy } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { createCpuBackend, createCudaBackend, cudaAvailability, cudaInfo } from '@bminf/kernels';
import { firstDifference, randInt8, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('igemm through the COL32 transforms', () => {
  it('is bit-exact where cublasLt supports it, else a clear UnsupportedError', () => {
    const gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 26), igemmPath: 'col32', gemvMaxRows: 0 });
    const cpu = createCpuBackend();
    const cc = cudaInfo().computeCapability ?? [0, 0];
    try {
      tidy(() => {
        const [m, n, k] = [36, 64, 96];
        const a = randInt8(m * k);
        const b = randInt8(n * k);
        const ref = cpu.download(cpu.igemm(cpu.upload(a, [m, k]), cpu.upload(b, [n, k])));
        let got: ArrayLike<number> | null = null;
        try {
          got = gpu.download(gpu.igemm(gpu.upload(a, [m, k]), gpu.upload(b, [n, k])));
        } catch (e) {
          console.log(`[gpu] COL32 igemm on sm_${cc.join('')}: ${(e as Error).message}`);
          expect(e).toBeInstanceOf(UnsupportedError);
          expect((e as Error).message).toMatch(/cublasLt has no algorithm/);
          expect(cc[0]).toBeGreaterThanOrEqual(9); // only Hopper and later lack these layouts
        }
        if (got) {
          console.log(`[gpu] COL32 igemm on sm_${cc.join('')}: ran, comparing with the CPU`);
          expect(firstDifference(got as Int32Array, ref)).toBe('identical');
        }
        // Still usable afterwards.
        const x = gpu.upload(new Float32Array([1, 2, 3, 4]), [4]);
        expect(Array.from(gpu.download(gpu.add(x, x)))).toEqual([2, 4, 6, 8]);
      });
    } finally {
      gpu.dispose();
    }
  });
});
