// RoutePolicy.decodePhases at full-size and awkward shapes: a chain of one-row int8 linears (every form
// decode_phases runs: plain, RMS, RMS + gated, LayerNorm + GELU, with bias and residual) queued as the
// phases of one launch gives the bits of the same linears run as kernels of their own, with 2 and 3 blocks
// an SM (k 4096, 10240, 2576 and 1216; the many rounds of a 20480-row gated product).
// The models' test (packages/models/test-gpu/decode-phases.test.ts) covers the attentions between them.
import { type Tensor, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCudaBackend, cudaAvailability, type RoutePolicy } from '@bminf/kernels';
import { f16, firstDifference, positiveF16, randInt8, seedUsed, testMemoryLimit, withRoutes } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('decode phases: one-row linears as the phases of one launch', () => {
  let gpu: CudaBackend;
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
  });
  afterAll(() => gpu?.dispose());

  it('a chain of linears gives the kernels\' bits at 2 and 3 blocks an SM', () => {
    tidy(() => {
      const weights = (m: number, k: number) => ({ w: gpu.upload(randInt8(m * k), [m, k]), ws: gpu.upload(positiveF16(m, 0.001, 0.01), [m]) });
      const norm = (k: number) => gpu.upload(positiveF16(k, 0.5, 1), [k]);
      const x = gpu.upload(f16(4096, 3), [1, 4096]);
      const o = weights(4096, 4096);
      const ffnIn = weights(20480, 4096);
      const ffnOut = weights(4096, 10240);
      const odd = weights(2576, 4096);
      const oddBias = gpu.upload(f16(2576, 0.5), [2576]);
      const narrow = weights(1216, 2576);
      const last = weights(64, 1216);
      const n1 = norm(4096), n2 = norm(4096), n3 = norm(4096), n3b = gpu.upload(f16(4096, 0.5), [4096]);
      const chain = (): Tensor[] => {
        const a = gpu.linearInt8(x, o.w, o.ws, { dtype: 'float16', rmsNorm: { weight: n1, eps: 1e-6 }, residual: x });
        const b = gpu.linearInt8(a, ffnIn.w, ffnIn.ws, { dtype: 'float16', gated: true, rmsNorm: { weight: n2, eps: 1e-6 } });
        const c = gpu.linearInt8(b, ffnOut.w, ffnOut.ws, { dtype: 'float16', residual: a });
        const d = gpu.linearInt8(c, odd.w, odd.ws, { dtype: 'float16', bias: oddBias, gelu: true, layerNorm: { weight: n3, bias: n3b, eps: 1e-5 } });
        const e = gpu.linearInt8(d, narrow.w, narrow.ws, { dtype: 'float16' });
        const f = gpu.linearInt8(e, last.w, last.ws, { dtype: 'float16' });
        return [a, b, c, d, e, f];
      };
      const plain = withRoutes(gpu, { decodePhases: 0 }, () => chain().map((t) => gpu.download(t)));
      const configs: Partial<RoutePolicy>[] = [{ decodePhases: 2 }, { decodePhases: 3 }];
      for (const routes of configs) {
        // the outputs are downloaded after the whole chain is queued (one launch of six phases), under the
        // same routes: the queue reads them when it launches
        const phased = withRoutes(gpu, routes, () => chain().map((t) => gpu.download(t)));
        phased.forEach((got, i) => expect(firstDifference(got, plain[i]), `${JSON.stringify(routes)} linear ${i}`).toBe('identical'));
      }
    });
  });
});
