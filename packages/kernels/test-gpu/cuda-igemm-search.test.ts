// igemm's algorithm search for skinny products (blaslt.cc, SearchSkinny): with up to 64 rows and at
// least 16 M weights the plan may take a configuration the heuristic never offered (another tile,
// split-K with a reduction pass, CTA swizzling). int32 sums are exact, so whatever is taken must give
// the CPU's bits; checked with the search on and off, and on fresh data through the replayed graph.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { randInt8, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('igemm algorithm search (skinny shapes)', () => {
  let gpu: CudaBackend;
  const cpu = createCpuBackend();
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 28), gemvMaxRows: 0 });
  });
  afterAll(() => gpu?.dispose());

  it('bit-exact against the CPU with the search on and off (10240 x 4096 weights, 16 and 40 rows)', () => {
    const n = gpu.nativeCuda;
    const prev = n.bench.igemmSearch(true);
    try {
      const [nn, k] = [10240, 4096];
      const b = randInt8(nn * k);
      const gb = gpu.upload(b, [nn, k]);
      const cb = cpu.upload(b, [nn, k]);
      for (const on of [true, false]) {
        n.bench.igemmSearch(on);
        for (const m of [16, 40]) {
          const out = gpu.empty([m, nn], 'int32');
          for (let r = 0; r < 3; r++) {
            // fresh activations each time: a replayed graph must read them, not a stale copy
            const a = randInt8(m * k);
            a[0] = -128; // extremes: int8 -128 products summed over all of k
            a[1] = -128;
            const ref = cpu.download(cpu.igemm(cpu.upload(a, [m, k]), cb));
            const ga = gpu.upload(a, [m, k]);
            const so = gpu.span(out);
            n.fill(so.region, so.byteOffset, so.byteLength, 0x55);
            gpu.igemmInto(ga, gb, out);
            expect(gpu.download(out)).toEqual(ref);
            ga.dispose();
          }
          out.dispose();
        }
      }
      gb.dispose();
    } finally {
      n.bench.igemmSearch(prev);
    }
  }, 120_000);

  it('igemmSearch rejects a non-boolean and returns the previous setting', () => {
    const n = gpu.nativeCuda;
    expect(() => n.bench.igemmSearch(1 as unknown as boolean)).toThrow(/on must be a boolean/);
    const prev = n.bench.igemmSearch(false);
    expect(n.bench.igemmSearch(prev)).toBe(false);
  });
});
