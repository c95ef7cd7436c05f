// The measured-and-not-chosen kernel variants (variants.mjs, quantize_variants.cu) stay bit-exact with
// the CPU and with the product's kernels, so benchmarks comparing them compare the same computation.
// Part of the gpu project; skips, saying why, where no usable GPU is present.
import { type Backend, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { both, firstDifference, hostData, randn, random, testMemoryLimit } from '../../test-gpu/helpers.js';
import { type KernelVariants, QUANTIZE_VARIANTS, kernelVariants } from './variants.mjs';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('dev kernel variants', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  let dev: KernelVariants;
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    cpu = createCpuBackend();
    dev = kernelVariants(gpu);
  });
  afterAll(() => gpu?.dispose());

  it('every float16 quantize variant is bit-exact with the CPU, at the launch shapes of each', () => {
    tidy(() => {
      const shapes: [number, number][] = [[1, 8], [17, 4096], [5, 10240], [2, 65536], [255, 24], [3000, 4096], [700, 2048], [500, 4096], [4097, 4096], [37, 10240], [3, 65536]];
      for (const [r, c] of shapes) {
        const [xc, xg] = both(cpu, gpu, hostData(randn(r * c, 10 * random() + 0.01), 'float16'), [r, c]);
        const want = cpu.quantizeRows(xc);
        for (const variant of QUANTIZE_VARIANTS) {
          const got = dev.quantizeRows(variant, xg);
          expect(firstDifference(gpu.download(got.values), cpu.download(want.values)), `[${r}, ${c}] values (${variant})`).toBe('identical');
          expect(firstDifference(gpu.download(got.scales), cpu.download(want.scales)), `[${r}, ${c}] scales (${variant})`).toBe('identical');
        }
      }
    });
  });

  it('every quantize variant gives the CPU bits on ties, NaN, infinities and subnormal scales', () => {
    tidy(() => {
      const rows: number[][] = [];
      for (const s of [1, 0.25, 3, 2 ** -24, 2 ** -20, 100]) {
        const row = [127 * s];
        for (let j = 0; j < 63; j++) row.push(((j % 2 ? -1 : 1) * (Math.floor(j / 2) + 0.5) + (j % 5 === 0 ? 1e-3 : 0)) * s);
        rows.push(row);
      }
      rows.push([Number.NaN, 1, -2.5, 3.5, Number.POSITIVE_INFINITY, -0, 0.1, ...Array(57).fill(0.5)]);
      rows.push([Number.NEGATIVE_INFINITY, ...Array(63).fill(65504)]);
      const [ec, eg] = both(cpu, gpu, hostData(Float32Array.from(rows.flat()), 'float16'), [rows.length, 64]);
      const want = cpu.quantizeRows(ec);
      for (const variant of QUANTIZE_VARIANTS) {
        const got = dev.quantizeRows(variant, eg);
        expect(firstDifference(gpu.download(got.values), cpu.download(want.values)), `edge rows (${variant})`).toBe('identical');
        expect(firstDifference(gpu.download(got.scales), cpu.download(want.scales)), `edge scales (${variant})`).toBe('identical');
      }
    });
  });

  it("the 4-column dequantize gives the product's bits (its 8-column float16 kernel included)", () => {
    tidy(() => {
      for (const [m, n] of [[1, 4], [3, 17], [64, 1000], [7, 4096], [5, 2056]]) {
        const acc = new Int32Array(m * n).map(() => Math.floor((random() * 2 - 1) * 2 ** 20));
        const ag = gpu.upload(acc, [m, n]);
        const rg = gpu.upload(hostData(randn(m, 0.01), 'float16'), [m]);
        const cg = gpu.upload(hostData(randn(n, 0.01), 'float16'), [n]);
        for (const dtype of ['float16', 'float32'] as const) {
          const bg = gpu.upload(hostData(randn(n), dtype), [n]);
          for (const bias of [undefined, bg]) {
            const product = gpu.download(gpu.dequantize(ag, rg, cg, { dtype, ...(bias ? { bias } : {}) }));
            const vec4 = gpu.download(dev.dequantizeVec4(ag, rg, cg, { dtype, ...(bias ? { bias } : {}) }));
            expect(firstDifference(vec4, product), `[${m}, ${n}] ${dtype}${bias ? ' with bias' : ''}`).toBe('identical');
          }
        }
      }
    });
  });
});
