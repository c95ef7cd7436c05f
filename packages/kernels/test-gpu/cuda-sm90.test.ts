// The Hopper GEMM kernel (igemm_sm90.cu: TMA loads, wgmma, int8 x int8): its int32 sums must be the CPU
// integer GEMM's bits, and the int8 linear layer with the dequantize fused into its epilogue must give
// the bits of quantize + igemm + dequantize, at awkward sizes (partial tiles in every dimension, K not a
// multiple of the 128-byte stage, -128 extremes, bias). Skips, saying why, on GPUs other than sm_90.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFloat16Array } from '@bminf/core';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { foreignHandle, randInt8, randn, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('Hopper GEMM kernel (sm_90)', () => {
  let gpu: CudaBackend;
  const cpu = createCpuBackend();
  let why: string | null = null;
  beforeAll(() => {
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    gpu.routes.fusedLinearMinRows = 1; // the fused kernel at every size here (the backend's default starts at 512)
    gpu.routes.fusedLinearTune = false; // and wherever it fits, not only where it timed faster
    why = gpu.sm90.ready() ? null : gpu.sm90.unavailable;
    if (why) console.log(`[gpu tests] Hopper kernel not tested: ${why}`);
  });
  afterAll(() => gpu?.dispose());

  const shapes: [number, number, number][] = [
    [9, 16, 8],
    [130, 272, 264],
    [300, 4112, 520],
    [256, 128, 256],
    [1037, 1024, 1032],
  ];

  // 't' splits K over clusters of 2 blocks (at K = 16 and 128 one of them gets no K step).
  const tiles = ['a', 'b', 't', 'a2'] as const;
  for (const [t, k, m, tile] of shapes.flatMap(([t, k, m]) => tiles.map((tile) => [t, k, m, tile] as const))) {
    it(`igemm ${t} x ${k} · (${m} x ${k})ᵀ, tile ${tile}: the CPU's int32 sums`, (ctx) => {
      if (why) ctx.skip();
      const a = randInt8(t * k);
      const w = randInt8(m * k);
      a[0] = -128;
      a[1] = -128;
      w[0] = -128;
      w[1] = -128;
      const ref = cpu.download(cpu.igemm(cpu.upload(a, [t, k]), cpu.upload(w, [m, k]))) as Int32Array;
      const ga = gpu.upload(a, [t, k]);
      const gw = gpu.upload(w, [m, k]);
      const out = gpu.empty([t, m], 'int32');
      const so = gpu.span(out);
      gpu.nativeCuda.fill(so.region, so.byteOffset, so.byteLength, 0x55); // no stale zeros
      gpu.sm90.tile = tile;
      gpu.sm90.igemm(ga, gw, out);
      gpu.sm90.tile = null;
      const got = gpu.download(out) as Int32Array;
      let diff = 0;
      for (let i = 0; i < ref.length; i++) if (got[i] !== ref[i]) diff++;
      expect(diff).toBe(0);
      for (const x of [ga, gw, out]) x.dispose();
    });
  }

  for (const [t, k, m, bias] of [
    [17, 144, 136, false],
    [130, 272, 264, true],
    [1037, 1024, 1032, true],
    [4096, 512, 768, false],
  ] as [number, number, number, boolean][]) {
    it(`int8 linear ${t} x ${k} -> ${m}${bias ? ' with bias' : ''}, every tile: fused epilogue = quantize + igemm + dequantize, bit for bit`, (ctx) => {
      if (why) ctx.skip();
      const x = gpu.upload(toFloat16Array(randn(t * k, 3)), [t, k]);
      const w = gpu.upload(randInt8(m * k), [m, k]);
      const ws = gpu.upload(toFloat16Array(randn(m, 0.01)), [m]);
      const b = bias ? gpu.upload(toFloat16Array(randn(m)), [m]) : undefined;
      const opts = { dtype: 'float16' as const, ...(b ? { bias: b } : {}) };
      gpu.routes.fusedLinear = false;
      const plain = gpu.download(gpu.linearInt8(x, w, ws, opts)) as Uint16Array;
      gpu.routes.fusedLinear = true;
      for (const tile of tiles) {
        gpu.sm90.tile = tile;
        const fused = gpu.download(gpu.linearInt8(x, w, ws, opts)) as Uint16Array;
        let diff = 0;
        for (let i = 0; i < plain.length; i++) if (plain[i] !== fused[i]) diff++;
        expect(fused.length).toBe(t * m);
        expect(diff).toBe(0);
      }
      gpu.sm90.tile = null;
      for (const v of [x, w, ws, b]) v?.dispose();
    });
  }

  it('tensorMap2d refuses maps outside their region, misaligned or oversized, and launch refuses a freed one', (ctx) => {
    const n = gpu.nativeCuda;
    if (!n.tensorMap2d) ctx.skip(); // an addon built without tensor maps: nothing was tested, so say so
    const region = n.reserve(4096);
    try {
      expect(n.tensorMap2d(region, 0, 64, 64, 64, 64, 64)).toBeTruthy(); // exactly the region
      expect(() => n.tensorMap2d(region, 0, 65, 64, 64, 64, 64)).toThrow(/reach byte 4160, outside the region of 4096 bytes/);
      expect(() => n.tensorMap2d(region, 8, 4, 64, 64, 4, 64)).toThrow(/multiples of 16/);
      expect(() => n.tensorMap2d(region, 0, 4, 64, 32, 4, 64)).toThrow(/strideBytes is less than rowBytes/);
      expect(() => n.tensorMap2d(region, 0, 4, 64, 64, 4, 256)).toThrow(RangeError);
      expect(() => n.tensorMap2d(foreignHandle(), 0, 4, 64, 64, 4, 64)).toThrow(TypeError);
      const map = n.tensorMap2d(region, 0, 4, 64, 64, 4, 64);
      expect(map).toBeTruthy();
      n.release(region);
      expect(() => n.tensorMap2d(region, 0, 4, 64, 64, 4, 64)).toThrow(/already freed/);
      const f = n.getFunction(gpu.kernels.module, 'dequantize8_f16');
      expect(() => n.launch(f, [1, 1, 1], [32, 1, 1], 0, 't', [map])).toThrow(/already freed/);
      expect(() => n.launch(f, [1, 1, 1], [32, 1, 1], 0, 't', [map], true)).toThrow(/already freed/); // graph or not
    } finally {
      n.release(region);
    }
  });

  // Through the backend: 'sm90' forces the kernel (tileFor's tile), 'auto' times it against cublasLt
  // once per shape. Each round uploads fresh activations into the block the last round freed, so a
  // stale cached tensor map (or a stale choice) would show.
  for (const [kernel, t, k, m] of [['sm90', 64, 4096, 1024], ['auto', 256, 4096, 4096]] as const) {
    it(`igemm through the backend with igemmKernel = ${kernel}, ${t} x ${k} x ${m}: the CPU's sums on fresh data at a reused address`, (ctx) => {
      if (why) ctx.skip();
      const w = randInt8(m * k);
      const gw = gpu.upload(w, [m, k]);
      const cw = cpu.upload(w, [m, k]);
      const out = gpu.empty([t, m], 'int32');
      gpu.routes.igemmKernel = kernel;
      try {
        for (let r = 0; r < 3; r++) {
          const a = randInt8(t * k);
          a[r] = -128;
          const ga = gpu.upload(a, [t, k]);
          gpu.igemmInto(ga, gw, out);
          ga.dispose();
          const ref = cpu.download(cpu.igemm(cpu.upload(a, [t, k]), cw));
          expect(Array.from(gpu.download(out) as Int32Array)).toEqual(Array.from(ref as Int32Array));
        }
        if (kernel === 'auto') {
          const pick = gpu.tuner.igemmChoice.get(`${t}:${m}:${k}`);
          expect(['cublaslt', 'a', 'b', 't']).toContain(pick);
          console.log(`[gpu tests] igemm ${t} x ${k} x ${m}: 'auto' took ${pick}`);
        }
      } finally {
        gpu.routes.igemmKernel = 'auto';
        for (const v of [gw, out]) v.dispose();
      }
    });
  }
});
