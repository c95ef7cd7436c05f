// RoutePolicy.rowMaxHandoff (row-max-handoff.ts): at 2-8 rows, attendCache's float16 kernel and the gated
// and GELU 'mma-q' linears hand each row's parts' maxima to the int8 linear that reads their output next,
// which then runs as linear_mma_qh (no quantize kernel). It must give the bits of the route without it
// (quantize_rows_gemv + linear_mma_q), eagerly and in a recorded step; it must be taken where the linear
// comes right after its producer and nowhere else (an op between them, here a copy over the output, must
// send the linear back to the quantize kernel). Skips, saying why, without a GPU.
import { type Tensor, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { f16, firstDifference, positiveF16, randInt8, random, seedUsed, testMemoryLimit, withRoutes } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('row maxima handed from an op to the int8 linear after it (linear_mma_qh)', () => {
  let gpu: CudaBackend;
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
  });
  afterAll(() => gpu?.dispose());

  // the attention's output, then its o product with a residual: CPM-2's heads and an awkward shape
  const attentionShapes: [number, number, number, number][] = [[64, 64, 4096, 70], [3, 128, 608, 37]]; // heads, headDim, m, slotRows
  for (const [H, D, m, S] of attentionShapes) {
    it(`attendCache (${H} heads of ${D}) then linearInt8 -> ${m} with a residual at 2, 5 and 8 rows: the bits without it, and it is taken`, () => {
      const d = H * D;
      for (const B of [2, 5, 8]) {
        tidy(() => {
          const q = gpu.upload(f16(B * d, 1), [B, d]);
          const keys = gpu.upload(f16(B * S * d, 1), [B * S, d]);
          const values = gpu.upload(f16(B * S * d, 1), [B * S, d]);
          const lens = gpu.upload(Int32Array.from({ length: B }, (_, b) => (b === 1 ? 0 : 1 + Math.floor(random() * S))), [B]);
          const w = gpu.upload(randInt8(m * d), [m, d]);
          const ws = gpu.upload(positiveF16(m, 0.001, 0.01), [m]);
          const bias = gpu.upload(f16(m, 0.5), [m]);
          const res = gpu.upload(f16(B * m, 4), [B, m]);
          const run = () => {
            const out = gpu.attendCache(q, keys, values, lens, { heads: H, scale: 0.125, slotRows: S });
            return gpu.download(gpu.linearInt8(gpu.contiguous(out), w, ws, { dtype: 'float16', bias, residual: res }));
          };
          const before = gpu.handoff.taken;
          const off = withRoutes(gpu, { rowMaxHandoff: false }, run);
          expect(gpu.handoff.taken).toBe(before);
          const on = withRoutes(gpu, { rowMaxHandoff: true }, run);
          expect(gpu.handoff.taken, `B ${B}: the linear took the maxima`).toBe(before + 1);
          expect(firstDifference(on, off), `B ${B}`).toBe('identical');
        });
      }
    });
  }

  // the FFN: the gated (RMS-normed) or GELU (LayerNorm'd) input product, then the output product with a residual
  const ffnShapes: [number, number][] = [[4096, 10240], [1216, 640]]; // d, f (whole 64-byte steps of k either way)
  for (const [d, f] of ffnShapes) {
    for (const act of ['gated', 'gelu'] as const) {
      it(`linearInt8 ${act} ${d} -> ${f} then ${f} -> ${d} with a residual at 3 and 8 rows: the bits without it, and it is taken`, () => {
        for (const rows of [3, 8]) {
          tidy(() => {
            const x = gpu.upload(f16(rows * d, 3), [rows, d]);
            const wIn = gpu.upload(randInt8((act === 'gated' ? 2 * f : f) * d), [act === 'gated' ? 2 * f : f, d]);
            const wsIn = gpu.upload(positiveF16(act === 'gated' ? 2 * f : f, 0.001, 0.01), [act === 'gated' ? 2 * f : f]);
            const nw = gpu.upload(positiveF16(d, 0.5, 1), [d]);
            const nb = gpu.upload(f16(d, 0.5), [d]);
            const wOut = gpu.upload(randInt8(d * f), [d, f]);
            const wsOut = gpu.upload(positiveF16(d, 0.001, 0.01), [d]);
            const res = gpu.upload(f16(rows * d, 4), [rows, d]);
            const run = () => {
              const h = act === 'gated'
                ? gpu.linearInt8(x, wIn, wsIn, { dtype: 'float16', gated: true, rmsNorm: { weight: nw, eps: 1e-6 } })
                : gpu.linearInt8(x, wIn, wsIn, { dtype: 'float16', gelu: true, layerNorm: { weight: nw, bias: nb, eps: 1e-5 } });
              return [gpu.download(h), gpu.download(gpu.linearInt8(h, wOut, wsOut, { dtype: 'float16', residual: res }))];
            };
            const before = gpu.handoff.taken;
            const [hOff, off] = withRoutes(gpu, { rowMaxHandoff: false }, run);
            const [hOn, on] = withRoutes(gpu, { rowMaxHandoff: true }, run);
            expect(gpu.handoff.taken, `${rows} rows: the linear took the maxima`).toBe(before + 1);
            expect(firstDifference(hOn, hOff), `${rows} rows: the producer's output`).toBe('identical');
            expect(firstDifference(on, off), `${rows} rows`).toBe('identical');
          });
        }
      });
    }
  }

  it('an op between the producer and the linear (a copy over its output) sends the linear back to the quantize kernel', () => {
    tidy(() => {
      const [B, H, D, S, m] = [4, 8, 64, 20, 256];
      const d = H * D;
      const q = gpu.upload(f16(B * d, 1), [B, d]);
      const keys = gpu.upload(f16(B * S * d, 1), [B * S, d]);
      const values = gpu.upload(f16(B * S * d, 1), [B * S, d]);
      const lens = gpu.upload(Int32Array.from({ length: B }, () => S), [B]);
      const other = gpu.upload(f16(B * d, 50), [B, d]); // larger values: stale maxima would clip them
      const w = gpu.upload(randInt8(m * d), [m, d]);
      const ws = gpu.upload(positiveF16(m, 0.001, 0.01), [m]);
      const want = withRoutes(gpu, { rowMaxHandoff: false }, () => gpu.download(gpu.linearInt8(other, w, ws, { dtype: 'float16' })));
      const before = gpu.handoff.taken;
      const got = withRoutes(gpu, { rowMaxHandoff: true }, () => {
        const out = gpu.attendCache(q, keys, values, lens, { heads: H, scale: 0.125, slotRows: S });
        gpu.copy(other, out);
        return gpu.download(gpu.linearInt8(out, w, ws, { dtype: 'float16' }));
      });
      expect(gpu.handoff.taken).toBe(before);
      expect(firstDifference(got, want)).toBe('identical');
    });
  });

  it('in a recorded step: the attention, o, the gated FFN and its output product replayed give the eager bits without it', async () => {
    const [B, H, D, S, f] = [6, 16, 64, 24, 2048];
    const d = H * D;
    const t = (data: Parameters<CudaBackend['upload']>[0], shape: number[]) => gpu.upload(data, shape);
    const q = t(f16(B * d, 1), [B, d]);
    const keys = t(f16(B * S * d, 1), [B * S, d]);
    const values = t(f16(B * S * d, 1), [B * S, d]);
    const lens = t(Int32Array.from({ length: B }, (_, b) => 1 + b * 3), [B]);
    const wo = t(randInt8(d * d), [d, d]);
    const wso = t(positiveF16(d, 0.001, 0.01), [d]);
    const wi = t(randInt8(2 * f * d), [2 * f, d]);
    const wsi = t(positiveF16(2 * f, 0.001, 0.01), [2 * f]);
    const nw = t(positiveF16(d, 0.5, 1), [d]);
    const wf = t(randInt8(d * f), [d, f]);
    const wsf = t(positiveF16(d, 0.001, 0.01), [d]);
    const res = t(f16(B * d, 4), [B, d]);
    const outRecorded = gpu.zeros([B, d], 'float16');
    const chain = (): Tensor => {
      const a = gpu.attendCache(q, keys, values, lens, { heads: H, scale: 0.125, slotRows: S });
      const x = gpu.linearInt8(a, wo, wso, { dtype: 'float16', residual: res });
      const h = gpu.linearInt8(x, wi, wsi, { dtype: 'float16', gated: true, rmsNorm: { weight: nw, eps: 1e-6 } });
      return gpu.linearInt8(h, wf, wsf, { dtype: 'float16', residual: x });
    };
    const want = withRoutes(gpu, { rowMaxHandoff: false }, () => tidy(() => gpu.download(chain())));
    const before = gpu.handoff.taken;
    const graph = withRoutes(gpu, { rowMaxHandoff: true }, () => gpu.captureStep(() => gpu.copy(chain(), outRecorded)));
    try {
      expect(gpu.handoff.taken, 'both linears after a producer took the maxima').toBe(before + 2);
      for (let i = 0; i < 3; i++) {
        await graph.run();
        expect(firstDifference(gpu.download(outRecorded), want)).toBe('identical');
      }
    } finally {
      graph.dispose();
      for (const x of [q, keys, values, lens, wo, wso, wi, wsi, nw, wf, wsf, res, outRecorded]) x.dispose();
    }
  });
});
