// Every CUDA op against the CPU op on fresh random inputs at awkward sizes. Skips, saying why, where no
// usable GPU is present.
import { type Backend, type Tensor, float32ToFloat16Bits, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { TOL, both, firstDifference, hostData, randInt8, randn, random, relErr, seedUsed, testMemoryLimit, worstDifference } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

const FLOATS = ['float32', 'float16'] as const;

describe.skipIf(!avail.available)('CUDA backend against the CPU backend', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  let startBytes = 0;
  beforeAll(() => {
    console.log(formatCudaInfo());
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    startBytes = gpu.memoryStats().bytesInUse;
    cpu = createCpuBackend();
    console.log(`[gpu tests] kernels: ${gpu.kernels.origin} (${gpu.kernels.compileSeconds.toFixed(2)} s), cache ${gpu.kernels.cachePath}`);
  });
  afterAll(() => gpu?.dispose());

  const cmp = (a: Tensor, b: Tensor) => relErr(gpu.download(a), cpu.download(b));

  it('upload/download round-trips every dtype, and copy/contiguous/cast handle strided views', () => {
    tidy(() => {
      const f = randn(3 * 5 * 7);
      for (const data of [randInt8(105), Int32Array.from(randInt8(105)), hostData(f, 'float16'), f]) {
        const t = gpu.upload(data, [3, 5, 7]);
        expect(gpu.download(t)).toEqual(data);
      }
      for (const dtype of FLOATS) {
        const [c, g] = both(cpu, gpu, hostData(randn(4 * 6 * 9), dtype), [4, 6, 9]);
        const vc = c.permute([2, 0, 1]).narrow(1, 1, 3);
        const vg = g.permute([2, 0, 1]).narrow(1, 1, 3);
        expect(gpu.download(gpu.contiguous(vg))).toEqual(cpu.download(cpu.contiguous(vc)));
        expect(gpu.download(vg)).toEqual(cpu.download(vc));
        const other = dtype === 'float16' ? 'float32' : 'float16';
        expect(gpu.download(gpu.cast(vg, other))).toEqual(cpu.download(cpu.cast(vc, other)));
        const dst = gpu.zeros([9, 4, 6], dtype);
        gpu.copy(g.permute([2, 0, 1]), dst);
        expect(gpu.download(dst)).toEqual(cpu.download(cpu.contiguous(c.permute([2, 0, 1]))));
      }
    });
  });

  it('quantizeRows is bit-exact (fast and generic paths, ties, zero rows, views)', () => {
    tidy(() => {
      const shapes: [number, number][] = [[1, 8], [3, 17], [17, 4096], [5, 10240], [33, 1000], [2, 65536], [255, 24], [4, 1], [3000, 4096], [700, 2048]];
      for (const dtype of FLOATS) {
        for (const [r, c] of shapes) {
          const [xc, xg] = both(cpu, gpu, hostData(randn(r * c, 10 * random() + 0.01), dtype), [r, c]);
          const a = gpu.quantizeRows(xg);
          const b = cpu.quantizeRows(xc);
          const qa = gpu.download(a.values);
          const qb = cpu.download(b.values);
          expect(firstDifference(qa, qb), `${dtype} [${r}, ${c}] values`).toBe('identical');
          expect(firstDifference(gpu.download(a.scales), cpu.download(b.scales)), `${dtype} [${r}, ${c}] scales`).toBe('identical');
        }
        // Ties: absmax 127 gives scale 1, so x = k + 0.5 sits exactly between two integers.
        const ties = new Float32Array([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 0, 0, 0, 0, 0, 0, 0, 0]);
        const [tc, tg] = both(cpu, gpu, hostData(ties, dtype), [2, 8]);
        const qt = gpu.download(gpu.quantizeRows(tg).values);
        expect(Array.from(qt)).toEqual([127, 0, 2, 2, 0, -2, -2, 126, 0, 0, 0, 0, 0, 0, 0, 0]);
        expect(qt).toEqual(cpu.download(cpu.quantizeRows(tc).values));
        expect(Array.from(gpu.download(gpu.quantizeRows(tg).scales))).toEqual([float32ToFloat16Bits(1), 0]);
        // The fast kernels take the exact division near half-integers, for NaN and infinities: rows of
        // ties at several scales (a subnormal one too), NaN, ±inf, -0 and values next to the ties.
        if (dtype === 'float16') {
          const rows: number[][] = [];
          for (const s of [1, 0.25, 3, 2 ** -24, 2 ** -20, 100]) {
            const row = [127 * s];
            for (let j = 0; j < 63; j++) row.push(((j % 2 ? -1 : 1) * (Math.floor(j / 2) + 0.5) + (j % 5 === 0 ? 1e-3 : 0)) * s);
            rows.push(row);
          }
          rows.push([Number.NaN, 1, -2.5, 3.5, Number.POSITIVE_INFINITY, -0, 0.1, ...Array(57).fill(0.5)]);
          rows.push([Number.NaN, 1, -2.5, 3.5, 100, -0, 0.1, ...Array(57).fill(-7.5)]);
          rows.push([Number.NEGATIVE_INFINITY, ...Array(63).fill(65504)]);
          const data = Float32Array.from(rows.flat());
          const [ec, eg] = both(cpu, gpu, hostData(data, dtype), [rows.length, 64]);
          const want = cpu.quantizeRows(ec);
          const got = gpu.quantizeRows(eg);
          expect(firstDifference(gpu.download(got.values), cpu.download(want.values)), 'edge rows').toBe('identical');
          expect(firstDifference(gpu.download(got.scales), cpu.download(want.scales)), 'edge scales').toBe('identical');
        }
        // A view at an odd offset (not 16-byte aligned) takes the generic path.
        const [vc, vg] = both(cpu, gpu, hostData(randn(9 * 24), dtype), [9, 24]);
        const sub = (t: Tensor) => t.narrow(0, 1, 7).narrow(1, 3, 16);
        expect(gpu.download(gpu.quantizeRows(sub(vg)).values)).toEqual(cpu.download(cpu.quantizeRows(sub(vc)).values));
      }
    });
  });

  it('igemm is bit-exact against the CPU integer GEMM, extremes included, at awkward m (GEMV and cublasLt paths)', () => {
    // m <= 8 with k % 16 == 0 takes the dp4a GEMV kernel; `lt` (gemvMaxRows 0) runs the same on cublasLt.
    const lt = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 28), gemvMaxRows: 0 });
    expect(lt.kernels.origin).toBe('cache'); // compiled once by the first backend, then read from disk
    const cases: [number, number, number][] = [
      [1, 4, 4], [3, 8, 16], [17, 256, 64], [255, 1000, 520], [64, 4096, 4096], [5, 12, 10240],
      [1, 4096, 4096], [9, 1000, 4096], [8, 4096, 10240], [16, 64, 4096], [2, 36, 48],
      [9, 48, 64], [13, 80, 640], [24, 4112, 192], [33, 16, 10240], [40, 272, 4096], [63, 1024, 1088], [64, 10240, 256],
    ];
    for (const [m, n, k] of cases) {
      tidy(() => {
        const a8 = randInt8(m * k);
        const b8 = randInt8(n * k);
        const ref = cpu.download(cpu.igemm(cpu.upload(a8, [m, k]), cpu.upload(b8, [n, k])));
        const viaLt = lt.download(lt.igemm(lt.upload(a8, [m, k]), lt.upload(b8, [n, k])));
        expect(firstDifference(viaLt, ref), `cublasLt igemm ${m}x${n}x${k}`).toBe('identical');
      });
      tidy(() => {
        const a = randInt8(m * k);
        const b = randInt8(n * k);
        if (m * k > 2) a.set([127, -128, -128]);
        if (n * k > 2) b.set([-128, -128, 127]);
        const [ac, ag] = both(cpu, gpu, a, [m, k]);
        const [bc, bg] = both(cpu, gpu, b, [n, k]);
        const got = gpu.igemm(ag, bg);
        expect(got.shape).toEqual([m, n]);
        expect(firstDifference(gpu.download(got), cpu.download(cpu.igemm(ac, bc))), `igemm ${m}x${n}x${k}`).toBe('identical');
      });
    }
    lt.dispose();
  });

  it('igemmInto matches igemm on each path: direct, GEMV, padded rows, views at an offset', () => {
    const lt = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 26), gemvMaxRows: 0 });
    for (const [m, n, k] of [[16, 4096, 4096], [64, 272, 640], [5, 64, 64], [3, 36, 48], [66, 128, 256], [9, 20, 12]] as const) {
      tidy(() => {
        const a8 = randInt8((m + 1) * k);
        const b8 = randInt8(n * k);
        const ref = cpu.download(cpu.igemm(cpu.upload(a8.subarray(0, m * k), [m, k]), cpu.upload(b8, [n, k])));
        for (const be of [gpu, lt]) {
          const a = be.upload(a8.subarray(0, m * k), [m, k]);
          const b = be.upload(b8, [n, k]);
          const out = be.upload(new Int32Array(m * n).fill(-1), [m, n]);
          be.igemmInto(a, b, out);
          const name = `${m}x${n}x${k} (${be === lt ? 'cublasLt' : 'default'})`;
          expect(firstDifference(be.download(out), ref), `igemmInto ${name}`).toBe('identical');
          expect(firstDifference(be.download(be.igemm(a, b)), ref), `igemm ${name}`).toBe('identical');
          // A at an offset of k bytes into a bigger tensor (aligned to 4 only where k is), out inside one too.
          const big = be.upload(Int8Array.from([...a8.subarray(m * k), ...a8.subarray(0, m * k)]).subarray(0, (m + 1) * k), [m + 1, k]);
          const av = big.narrow(0, 1, m);
          const outBig = be.upload(new Int32Array((m + 1) * n).fill(-1), [m + 1, n]);
          be.igemmInto(av, b, outBig.narrow(0, 1, m));
          expect(firstDifference(be.download(outBig.narrow(0, 1, m)), ref), `igemmInto views ${name}`).toBe('identical');
          expect(Array.from(be.download(outBig.narrow(0, 0, 1)))).toEqual(Array(n).fill(-1));
        }
      });
    }
    lt.dispose();
  });

  it('the GEMV replayed from a launch graph: fresh data at the same addresses, and a second shape between, stay exact', () => {
    // The same launch (kernel, grid, parameter bytes) is captured on its second call and replayed from
    // the third on: each round writes new activations into the same tensor, so a replay that ran the
    // captured call on stale inputs, or on another shape's parameters, would show.
    const [n, k] = [1024, 4096];
    const w8 = randInt8(n * k);
    const w = gpu.upload(w8, [n, k]);
    const cw = cpu.upload(w8, [n, k]);
    for (const m of [1, 3]) {
      const a = gpu.empty([m, k], 'int8');
      const out = gpu.empty([m, n], 'int32');
      for (let r = 0; r < 4; r++) {
        const a8 = randInt8(m * k);
        a8[r] = -128;
        const fresh = gpu.upload(a8, [m, k]);
        gpu.copy(fresh, a);
        fresh.dispose();
        gpu.igemmInto(a, w, out);
        const ref = cpu.download(cpu.igemm(cpu.upload(a8, [m, k]), cw));
        expect(firstDifference(gpu.download(out), ref), `GEMV ${m} rows, round ${r}`).toBe('identical');
      }
      a.dispose();
      out.dispose();
    }
    w.dispose();
  });

  it('dequantize (with and without bias) matches', () => {
    tidy(() => {
      for (const [m, n] of [[1, 4], [3, 17], [64, 1000], [7, 4096], [5, 2056]]) {
        const acc = new Int32Array(m * n).map(() => Math.floor((random() * 2 - 1) * 2 ** 20));
        const [ac, ag] = both(cpu, gpu, acc, [m, n]);
        const [rc, rg] = both(cpu, gpu, hostData(randn(m, 0.01), 'float16'), [m]);
        const [cc, cg] = both(cpu, gpu, hostData(randn(n, 0.01), 'float16'), [n]);
        for (const dtype of FLOATS) {
          const [bc, bg] = both(cpu, gpu, hostData(randn(n), dtype), [n]);
          expect(cmp(gpu.dequantize(ag, rg, cg, { dtype }), cpu.dequantize(ac, rc, cc, { dtype }))).toBeLessThan(1e-6);
          expect(cmp(gpu.dequantize(ag, rg, cg, { dtype, bias: bg }), cpu.dequantize(ac, rc, cc, { dtype, bias: bc }))).toBeLessThan(1e-6);
        }
      }
    });
  });

  it('gemm: transposes, batches, strided views and alpha', () => {
    for (const dtype of FLOATS) {
      for (const [m, n, k] of [[1, 1, 1], [3, 17, 5], [17, 255, 64], [64, 100, 1000]]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            tidy(() => {
              const batch = 3;
              const [ac, ag] = both(cpu, gpu, hostData(randn(batch * m * k), dtype), transA ? [batch, k, m] : [batch, m, k]);
              const [bc, bg] = both(cpu, gpu, hostData(randn(batch * k * n), dtype), transB ? [batch, n, k] : [batch, k, n]);
              const opts = { transA, transB, alpha: 0.125 };
              const e = cmp(gpu.gemm(ag, bg, opts), cpu.gemm(ac, bc, opts));
              expect(e, `${dtype} ${m}x${n}x${k} ${transA} ${transB}`).toBeLessThan(TOL[dtype]);
              // rank 2: the middle batch, a view
              const e2 = cmp(gpu.gemm(ag.select(0, 1), bg.select(0, 1), opts), cpu.gemm(ac.select(0, 1), bc.select(0, 1), opts));
              expect(e2).toBeLessThan(TOL[dtype]);
            });
          }
        }
      }
      // Rows and batches strided (a head of a KV cache): [batch, seq, heads*dim] narrowed to one head.
      tidy(() => {
        const [qc, qg] = both(cpu, gpu, hostData(randn(2 * 7 * 48), dtype), [2, 7, 48]);
        const [kc, kg] = both(cpu, gpu, hostData(randn(2 * 9 * 48), dtype), [2, 9, 48]);
        const h = (t: Tensor) => t.narrow(2, 16, 16);
        const e = cmp(gpu.gemm(h(qg), h(kg), { transB: true }), cpu.gemm(h(qc), h(kc), { transB: true }));
        expect(e).toBeLessThan(TOL[dtype]);
      });
    }
  });

  it('layerNorm (LayerNorm and RMS norm), gelu, add, mul', () => {
    for (const dtype of FLOATS) {
      for (const d of [1, 3, 17, 255, 1000, 4096]) {
        tidy(() => {
          const rows = 1 + Math.floor(random() * 20);
          const [xc, xg] = both(cpu, gpu, hostData(randn(rows * d, 3), dtype), [rows, d]);
          const [wc, wg] = both(cpu, gpu, hostData(randn(d), dtype), [d]);
          const [bc, bg] = both(cpu, gpu, hostData(randn(d), dtype), [d]);
          const ln = { eps: 1e-5, subtractMean: true };
          const rms = { eps: 1e-6, subtractMean: false };
          expect(cmp(gpu.layerNorm(xg, wg, bg, ln), cpu.layerNorm(xc, wc, bc, ln)), `layerNorm ${dtype} ${d}`).toBeLessThan(TOL[dtype] * 5);
          expect(cmp(gpu.layerNorm(xg, wg, null, rms), cpu.layerNorm(xc, wc, null, rms)), `rms ${dtype} ${d}`).toBeLessThan(TOL[dtype] * 5);
          const [gg, gc] = [gpu.download(gpu.gelu(xg)), cpu.download(cpu.gelu(xc))];
          expect(relErr(gg, gc), `gelu ${dtype} ${rows}x${d}: ${worstDifference(gg, gc, cpu.download(xc))}`).toBeLessThan(TOL[dtype]);
          const [tg, tc] = [gpu.download(gpu.gelu(xg.transpose())), cpu.download(cpu.gelu(xc.transpose()))];
          expect(relErr(tg, tc), `gelu of the transpose ${dtype} ${rows}x${d}: ${worstDifference(tg, tc)}`).toBeLessThan(TOL[dtype]);
          expect(cmp(gpu.add(xg, bg), cpu.add(xc, bc))).toBeLessThan(TOL[dtype]);
          expect(cmp(gpu.mul(xg, bg), cpu.mul(xc, bc))).toBeLessThan(TOL[dtype]);
          expect(cmp(gpu.add(xg, xg), cpu.add(xc, xc))).toBeLessThan(TOL[dtype]);
        });
      }
    }
  });

  it('softmax: scale, causal offsets, full and broadcast bias, rank 2 and 3', () => {
    for (const dtype of FLOATS) {
      for (const [b, r, c] of [[1, 1, 1], [2, 3, 17], [3, 17, 1000], [2, 64, 64], [1, 3, 1024], [1, 2, 1500]]) {
        tidy(() => {
          const [xc, xg] = both(cpu, gpu, hostData(randn(b * r * c, 4), dtype), [b, r, c]);
          const [fc, fg] = both(cpu, gpu, hostData(randn(b * r * c), dtype), [b, r, c]);
          const [pc, pg] = both(cpu, gpu, hostData(randn(r * c), dtype), [r, c]);
          for (const opts of [{}, { scale: 0.125 }, { causalOffset: c - r }, { causalOffset: 0 }, { causalOffset: -1 }]) {
            expect(cmp(gpu.softmax(xg, opts), cpu.softmax(xc, opts)), `${dtype} ${JSON.stringify(opts)}`).toBeLessThan(TOL[dtype]);
          }
          expect(cmp(gpu.softmax(xg, { bias: fg, scale: 0.5 }), cpu.softmax(xc, { bias: fc, scale: 0.5 }))).toBeLessThan(TOL[dtype]);
          expect(cmp(gpu.softmax(xg, { bias: pg, causalOffset: 1 }), cpu.softmax(xc, { bias: pc, causalOffset: 1 }))).toBeLessThan(TOL[dtype]);
          expect(cmp(gpu.softmax(xg.select(0, 0), { scale: 2 }), cpu.softmax(xc.select(0, 0), { scale: 2 }))).toBeLessThan(TOL[dtype]);
        });
      }
    }
  });

  it('every test above gave its device memory back to the pool', () => {
    expect(gpu.memoryStats().bytesInUse).toBe(startBytes); // the backend's own: its error flag, the attention's counters
    expect(gpu.memoryStats().peakBytesInUse).toBeGreaterThan(2 ** 20);
  });

  it('embedding matches (16-byte copies where d % 8 == 0, else by element), and an id out of range is a clear error', () => {
    tidy(() => {
      for (const [dtype, d] of FLOATS.flatMap((t) => [[t, 24], [t, 20]] as const)) {
        const [tc, tg] = both(cpu, gpu, hostData(randn(1000 * d), dtype), [1000, d]);
        const ids = Int32Array.from({ length: 37 }, () => Math.floor(random() * 1000));
        const [ic, ig] = both(cpu, gpu, ids, [37]);
        expect(gpu.download(gpu.embedding(ig, tg))).toEqual(cpu.download(cpu.embedding(ic, tc)));
        const bad = gpu.upload(Int32Array.from([1, 2, 1000, 3]), [4]);
        expect(() => gpu.embedding(bad, tg)).toThrow(/id 1000 at position 2 is out of range for a table of 1000 rows/);
      }
    });
  });
});
