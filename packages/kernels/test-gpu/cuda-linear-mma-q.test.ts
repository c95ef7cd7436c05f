// The int8 linear for 2-32 rows (batched decoding): the quantize (quantize_rows_gemv), then linear_mma_q
// (gemv.cu) with the dequantize, GELU, the gated GELU·gate and the residual in its epilogue, must give each
// row the bits it gets alone (the one-row GEMV linear: a sequence decodes to the same ids in any batch),
// and the bits of the three calls and the ops after them (where a norm is fused, within its rounding:
// norm_quantize sums in another order), in every form, at row counts on both sides of its kernels' groups
// of 8 (3, 8, 9, 16, 17, 25, 32; and one row, a route to time) and at awkward shapes (k 1216 = 19 steps of
// 64 over 16 warps; 608 features = 19 groups of 32) as well as CPM-2's. Against the CPU backend bit for bit
// where no norm and no GELU is involved. Skips, saying why, without a GPU.
import { type Backend, type Tensor, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability, type RoutePolicy } from '@bminf/kernels';
import { both, f16, firstDifference, positiveF16, randInt8, relErr, seedUsed, testMemoryLimit, withRoutes } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

type Options = Parameters<CudaBackend['linearInt8']>[3];

describe.skipIf(!avail.available)('the int8 linear for 2-32 rows on the tensor cores (linear_mma_q)', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    cpu = createCpuBackend();
  });
  afterAll(() => gpu?.dispose());

  const shapes: [number, number][] = [[1216, 608], [4096, 4096], [10240, 4096], [4096, 20480], [64, 32]];
  for (const [k, m] of shapes) {
    it(`linearInt8 k ${k} -> ${m} at 1 (where asked), 3, 8, 9, 16, 17, 25 and 32 rows gives each row its bits alone, and the three calls' (a norm's within rounding), every form`, () => {
      expect(gpu.routes.mmaQuantizedMaxRows).toBe(32); // the default: what runs below is the new route
      for (const rows of [1, 3, 8, 9, 16, 17, 25, 32]) {
        // one scope a row count: CPM-2's FFN weight is 80 MiB, the test's pool 512 MiB
        tidy(() => {
          // one row: the GEMV linear's unless mmaQuantizedMinRows says otherwise (a route to time)
          const mine: Partial<RoutePolicy> = rows === 1 ? { mmaQuantizedMinRows: 1 } : {};
          const f = m / 2;
          const [xc, x] = both(cpu, gpu, f16(rows * k, 3), [rows, k]);
          const [wc, w] = both(cpu, gpu, randInt8(m * k), [m, k]);
          const [wsc, ws] = both(cpu, gpu, positiveF16(m, 0.001, 0.01), [m]);
          const [bc, bias] = both(cpu, gpu, f16(m, 0.5), [m]);
          const [rc, res] = both(cpu, gpu, f16(rows * m, 4), [rows, m]);
          const resGated = gpu.upload(f16(rows * f, 4), [rows, f]);
          const nw = gpu.upload(positiveF16(k, 0.5, 1), [k]);
          const nb = gpu.upload(f16(k, 0.5), [k]);
          const forms: [string, Options, Options | null][] = [
            ['plain', { dtype: 'float16' }, { dtype: 'float16' }],
            ['bias+residual', { dtype: 'float16', bias, residual: res }, { dtype: 'float16', bias: bc, residual: rc }],
            ['gelu+residual', { dtype: 'float16', bias, gelu: true, residual: res }, null],
            ['gated', { dtype: 'float16', gated: true }, null],
            ['rms+gated+residual', { dtype: 'float16', gated: true, residual: resGated, rmsNorm: { weight: nw, eps: 1e-6 } }, null],
            ['rms+residual', { dtype: 'float16', rmsNorm: { weight: nw, eps: 1e-6 }, residual: res }, null],
            ['ln+gelu', { dtype: 'float16', bias, gelu: true, layerNorm: { weight: nw, bias: nb, eps: 1e-5 } }, null],
          ];
          for (const [form, options, cpuOptions] of forms) {
            const tag = `${form} ${rows}x${k}x${m}`;
            const mmaQ = withRoutes(gpu, mine, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
            // each row alone (the GEMV linear's one-row kernel): the same bits, the norms' included
            const alone = new Uint16Array(mmaQ.length);
            const width = mmaQ.length / rows;
            for (let r = 0; r < rows; r++) {
              const one = { ...options, ...(options.residual ? { residual: options.residual.narrow(0, r, 1) } : {}) };
              alone.set(gpu.download(gpu.linearInt8(x.narrow(0, r, 1), w, ws, one)) as Uint16Array, r * width);
            }
            expect(firstDifference(mmaQ, alone), `${tag} rows alone`).toBe('identical');
            // the three calls: the same bits but where a norm is summed (norm_quantize's order)
            const calls = withRoutes(gpu, { mmaQuantizedMaxRows: 0, gemvMaxRows: 0 }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
            if (options.rmsNorm || options.layerNorm) expect(relErr(mmaQ, calls), tag).toBeLessThan(2e-2);
            else expect(firstDifference(mmaQ, calls), tag).toBe('identical');
            if (cpuOptions) expect(firstDifference(mmaQ, cpu.download(cpu.linearInt8?.(xc, wc, wsc, cpuOptions) as Tensor)), `${tag} CPU`).toBe('identical');
          }
        });
      }
    });
  }

  it('past 32 rows, or at shapes it does not take (features not a multiple of 32), the three calls run: the same bits either way', () => {
    tidy(() => {
      for (const [rows, k, m] of [[33, 256, 64], [20, 256, 48], [12, 80, 64]]) {
        const x = gpu.upload(f16(rows * k, 3), [rows, k]);
        const w = gpu.upload(randInt8(m * k), [m, k]);
        const ws = gpu.upload(positiveF16(m, 0.001, 0.01), [m]);
        const calls = withRoutes(gpu, { mmaQuantizedMaxRows: 0 }, () => gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16' })));
        expect(firstDifference(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16' })), calls), `${rows}x${k}x${m}`).toBe('identical');
      }
    });
  });
});
