// igemm's lean native entry (igemmFast: regions and offsets, lengths implied by m, n, k) and its two
// issue modes (0: cublasLtMatmul per call; 2, the default: a captured CUDA graph replayed): bit-exact against the CPU integer GEMM, and every range still checked
// against its region, so a JS caller cannot make the addon touch memory outside a live region.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { foreignHandle, randInt8, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('igemmFast and graph replay', () => {
  let gpu: CudaBackend;
  const cpu = createCpuBackend();
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 27), gemvMaxRows: 0 });
  });
  afterAll(() => gpu?.dispose());

  for (const mode of [0, 2] as const) {
    // Three calls per shape: in mode 2 the first runs cublasLt directly, the second captures the graph,
    // the third replays it; the first shape comes back at the end on fresh data (and, from the pool,
    // likely the same addresses), so a replay that read stale inputs would show.
    it(`mode ${mode}: bit-exact against the CPU, repeated calls and a second shape included`, () => {
      const n = gpu.nativeCuda;
      const prev = n.bench.igemmMode(mode);
      expect(prev).toBe(2); // graph replay is the default
      try {
        for (const [m, nn, k] of [[16, 64, 128], [64, 4096 / 16, 256], [16, 64, 128], [4, 8, 4]]) {
          const a = randInt8(m * k);
          const b = randInt8(nn * k);
          const ref = cpu.download(cpu.igemm(cpu.upload(a, [m, k]), cpu.upload(b, [nn, k])));
          const ga = gpu.upload(a, [m, k]);
          const gb = gpu.upload(b, [nn, k]);
          const out = gpu.empty([m, nn], 'int32');
          for (let r = 0; r < 3; r++) {
            const so = gpu.span(out);
            n.fill(so.region, so.byteOffset, so.byteLength, 0x55); // a stale or skipped product shows
            gpu.igemmInto(ga, gb, out);
            expect(gpu.download(out)).toEqual(ref);
          }
          for (const t of [ga, gb, out]) t.dispose();
        }
      } finally {
        n.bench.igemmMode(prev);
      }
    });
  }

  it('rejects ranges outside a region, activations and products without room for whole tiles after them, freed regions and foreign handles', () => {
    const n = gpu.nativeCuda;
    const MiB = 2 ** 20;
    const region = n.reserve(MiB);
    try {
      expect(() => n.igemmFast(region, 0, region, 0, region, MiB - 4096, 32, 64, 64)).toThrow(RangeError);
      expect(() => n.igemmFast(region, 0, region, 0, region, MiB - 4096, 32, 64, 64)).toThrow(/C: bytes 1044480\.\.1052672 lie outside the device region of 1048576 bytes/);
      expect(() => n.igemmFast(region, 0, region, MiB - 4096, region, 0, 16, 64, 128)).toThrow(/B: bytes 1044480\.\.1052672 lie outside/);
      expect(() => n.igemmFast(region, MiB - 1, region, 0, region, 0, 4, 4, 4)).toThrow(/A: bytes 1048575\.\.1048591 lie outside the device region of 1048576 bytes/);
      // cublasLt's kernels may touch whole tiles of rows past A and C (a fault on an H100, NOTES.md): the
      // region must go on for (256 - 4) rows and 4 KiB after them; the weights need no room
      expect(() => n.igemmFast(region, MiB - 64, region, 0, region, 0, 4, 4, 4)).toThrow(/A: the device region ends 48 bytes after the operand; cublasLt's int8 kernels may touch 5104 bytes past it/);
      expect(() => n.igemmFast(region, 0, region, 0, region, MiB - 64, 4, 4, 4)).toThrow(/C: the device region ends 0 bytes after the operand; .* may touch 8128 bytes .*ltStorageBytes/);
      expect(() => n.igemmFast(region, 0, region, MiB - 16, region, 64 * 1024, 4, 4, 4)).not.toThrow();
      expect(() => n.igemmFast(region, 0, region, 0, region, 0, 4, 4, 6)).toThrow(/multiples of 4/);
      expect(() => n.igemmFast(region, 1, region, 0, region, 64 * 1024, 4, 4, 4)).toThrow(/4-byte aligned/);
      expect(() => n.igemmFast(region, -4, region, 0, region, 64 * 1024, 4, 4, 4)).toThrow(/non-negative integer/);
      expect(() => n.igemmFast(foreignHandle(), 0, region, 0, region, 64 * 1024, 4, 4, 4)).toThrow(/A must be a device region handle/);
      const igemmFastUnchecked = n.igemmFast as (...args: unknown[]) => void; // to pass too few arguments
      expect(() => igemmFastUnchecked(region, 0, region, 0, region, 64 * 1024, 4, 4)).toThrow(/9 arguments expected/);
      expect(() => n.bench.igemmMode(3 as 2)).toThrow(/mode must be an integer in \[0, 2\]/);
      gpu.synchronize();
    } finally {
      n.release(region);
    }
    expect(() => n.igemmFast(region, 0, region, 0, region, 64 * 1024, 4, 4, 4)).toThrow(/already freed/);
  });
});
