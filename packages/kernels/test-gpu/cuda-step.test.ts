// The planned-step ops on CUDA against the CPU backend (fresh random data at awkward sizes), and a
// step recorded as one CUDA graph against the same ops run one by one: bit for bit, over several
// runs with fresh inputs. Skips, saying why, where no usable GPU is present.
import { type Backend, type Tensor, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { TOL, both, firstDifference, hostData, randInt8, randn, random, relErr, seedUsed, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

describe.skipIf(!avail.available)('planned-step ops and captured steps on CUDA', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    cpu = createCpuBackend();
  });
  afterAll(() => gpu?.dispose());

  it.each(['float16', 'float32'] as const)('scatterRows (%s): strided rows, indices out of range skipped', (dtype) => {
    tidy(() => {
      for (const [n, w, R] of [[1, 3, 4], [5, 33, 9], [7, 64, 40]]) {
        const src = randn(n * (w + 5));
        const [sc, sg] = both(cpu, gpu, hostData(src, dtype), [n, w + 5]);
        // distinct targets (two rows scattered to one place would race), two of them out of range
        const perm = Array.from({ length: R }, (_, i) => i).sort(() => random() - 0.5);
        const idx = Int32Array.from({ length: n }, (_, i) => (i === 1 ? -1 : i === 2 ? R : perm[i]));
        const [ic, ig] = both(cpu, gpu, idx, [n]);
        const [dc, dg] = both(cpu, gpu, hostData(randn(R * w), dtype), [R, w]);
        cpu.scatterRows(sc.narrow(1, 2, w), dc, ic);
        gpu.scatterRows(sg.narrow(1, 2, w), dg, ig);
        expect(gpu.download(dg)).toEqual(cpu.download(dc));
      }
    });
  });

  it.each(['float16', 'float32'] as const)('attendCache (%s) against the CPU: lengths 0, 1, partial, full and beyond; with and without a distance bias', (dtype) => {
    tidy(() => {
      // the last two split each (sequence, head) over the cache (attendCacheSplits: 10 and 3 blocks a pair)
      for (const [B, H, D, S] of [[1, 1, 7, 1], [3, 2, 64, 37], [5, 3, 80, 19], [2, 4, 33, 130], [4, 2, 64, 600], [6, 16, 128, 300]]) {
        const width = H * D;
        const [qc, qg] = both(cpu, gpu, hostData(randn(B * (width + 8)), dtype), [B, width + 8]);
        const [kc, kg] = both(cpu, gpu, hostData(randn(B * S * width), dtype), [B * S, width]);
        const [vc, vg] = both(cpu, gpu, hostData(randn(B * S * width), dtype), [B * S, width]);
        const lens = Int32Array.from({ length: B }, (_, b) => [0, 1, S, S + 5, Math.floor(random() * S)][b % 5]);
        const [lc, lg] = both(cpu, gpu, lens, [B]);
        const [bc, bg] = both(cpu, gpu, hostData(randn(H * S, 0.5), dtype), [H, S]);
        for (const bias of [false, true]) {
          const o = { heads: H, scale: 1 / Math.sqrt(D), slotRows: S };
          const c = cpu.attendCache(qc.narrow(1, 4, width), kc, vc, lc, bias ? { ...o, distanceBias: bc } : o);
          const g = gpu.attendCache(qg.narrow(1, 4, width), kg, vg, lg, bias ? { ...o, distanceBias: bg } : o);
          expect(relErr(gpu.download(g), cpu.download(c)), `B ${B} H ${H} D ${D} S ${S} bias ${bias}`).toBeLessThan(TOL[dtype]);
        }
      }
    });
  });

  it.each(['float16', 'float32'] as const)('attendCache (%s) with append writes the caches as the CPU does and attends alike, split or not', (dtype) => {
    // The vector kernel's routes: unsplit (the product's default) and split over the cache as
    // attendCacheSplits chooses. A split rescales and adds partial sums, so the two differ in the last
    // bits (the first GPU run of 2026-12-05 showed it); each is held to the CPU.
    const routes = [{ attendSplitMax: 1 }, { attendSplitMax: 0 }];
    const saved = { attendSplitMax: gpu.routes.attendSplitMax };
    try {
      tidy(() => {
        // [2, 4, 33, 130]: the generic kernel; the rest the float16 vector kernel (split from 600 and 300 rows)
        for (const [B, H, D, S] of [[3, 2, 64, 37], [2, 4, 33, 130], [4, 2, 64, 600], [6, 16, 128, 300]]) {
          const width = H * D;
          const q = hostData(randn(B * 3 * width), dtype);
          const k = hostData(randn(B * S * width), dtype);
          const v = hostData(randn(B * S * width), dtype);
          const lens = Int32Array.from({ length: B }, (_, b) => [0, 1, S, S + 5, 1 + Math.floor(random() * S)][b % 5]);
          const o = { heads: H, scale: 1 / Math.sqrt(D), slotRows: S };
          const ap = (x: Tensor) => ({ keys: x.narrow(1, width, width), values: x.narrow(1, 2 * width, width) });
          const qc = cpu.upload(q, [B, 3 * width]);
          const [kc, vc] = [cpu.upload(k, [B * S, width]), cpu.upload(v, [B * S, width])];
          const c = cpu.attendCache(qc.narrow(1, 0, width), kc, vc, cpu.upload(lens, [B]), { ...o, append: ap(qc) });
          for (const r of routes) {
            Object.assign(gpu.routes, r);
            const qg = gpu.upload(q, [B, 3 * width]);
            const [kg, vg] = [gpu.upload(k, [B * S, width]), gpu.upload(v, [B * S, width])];
            const g = gpu.attendCache(qg.narrow(1, 0, width), kg, vg, gpu.upload(lens, [B]), { ...o, append: ap(qg) });
            const what = `B ${B} H ${H} D ${D} S ${S}, routes ${JSON.stringify(r)}`;
            // firstDifference, not toEqual: a deep equality over millions of elements took a minute (and held the worker)
            expect(firstDifference(gpu.download(kg), cpu.download(kc)), `keys ${what}`).toBe('identical');
            expect(firstDifference(gpu.download(vg), cpu.download(vc)), `values ${what}`).toBe('identical');
            const got = gpu.download(g);
            expect(relErr(got, cpu.download(c)), what).toBeLessThan(TOL[dtype]);
          }
        }
      });
    } finally {
      Object.assign(gpu.routes, saved);
    }
  });

  it('a captured step equals the same ops run one by one, bit for bit, over runs with fresh inputs', async () => {
    const B = 3, H = 4, D = 64, S = 200, V = 50, d = H * D; // S: the attention splits the cache (4 blocks a pair)
    const savedSplits = gpu.routes.attendSplitMax;
    gpu.routes.attendSplitMax = 0; // the split path (the product's default runs unsplit)
    const table = gpu.upload(hostData(randn(V * d), 'float16'), [V, d]);
    const lnw = gpu.upload(hostData(randn(d), 'float16'), [d]);
    const w = gpu.upload(randInt8(3 * d * d), [3 * d, d]);
    const ws = gpu.upload(hostData(Float32Array.from({ length: 3 * d }, () => 0.01 + random() * 0.01), 'float16'), [3 * d]);
    const ids = gpu.zeros([B], 'int32');
    const rows = gpu.zeros([B], 'int32');
    const lens = gpu.zeros([B], 'int32');
    const step = (keys: Tensor, values: Tensor, out: Tensor) => () => {
      const x = gpu.layerNorm(gpu.embedding(ids, table), lnw, null, { eps: 1e-6, subtractMean: false });
      const qkv = gpu.linearInt8(x, w, ws, { dtype: 'float16' });
      // the first slot's row by scatterRows (rows b * S + t with lens t + 1 name the same position), all by append
      gpu.scatterRows(qkv.narrow(1, d, d).narrow(0, 0, 1), keys, rows.narrow(0, 0, 1));
      const append = { keys: qkv.narrow(1, d, d), values: qkv.narrow(1, 2 * d, d) };
      gpu.copy(gpu.gelu(gpu.attendCache(qkv.narrow(1, 0, d), keys, values, lens, { heads: H, scale: 0.125, slotRows: S, append })), out);
    };
    const caches = () => [gpu.zeros([B * S, d], 'float16'), gpu.zeros([B * S, d], 'float16'), gpu.zeros([B, d], 'float16')] as const;
    const [k1, v1, o1] = caches();
    const [k2, v2, o2] = caches();
    const graph = gpu.captureStep(step(k1, v1, o1));
    try {
      for (let t = 0; t < 6; t++) {
        gpu.write(ids, Int32Array.from({ length: B }, () => Math.floor(random() * V)));
        gpu.write(rows, Int32Array.from({ length: B }, (_, b) => b * S + t));
        gpu.write(lens, Int32Array.from({ length: B }, () => t + 1));
        await graph.run();
        tidy(step(k2, v2, o2));
        expect(firstDifference(gpu.download(o1), gpu.download(o2))).toBe('identical');
        expect(firstDifference(gpu.download(k1), gpu.download(k2))).toBe('identical');
        expect(firstDifference(gpu.download(v1), gpu.download(v2))).toBe('identical');
      }
    } finally {
      graph.dispose();
      gpu.routes.attendSplitMax = savedSplits;
    }
    await expect(graph.run()).rejects.toThrow(/dispose/);
  });

  it('the one-kernel int8 linear for a few rows equals quantize + igemm + dequantize (+ add) bit for bit', () => {
    tidy(() => {
      for (const [rows, m, k] of [[1, 4, 16], [3, 36, 208], [5, 1028, 4096], [8, 256, 10240], [2, 20480, 4096]]) {
        const x = gpu.upload(hostData(randn(rows * k), 'float16'), [rows, k]);
        const w = gpu.upload(randInt8(m * k), [m, k]);
        const ws = gpu.upload(hostData(Float32Array.from({ length: m }, () => 0.001 + random() * 0.01), 'float16'), [m]);
        const bias = gpu.upload(hostData(randn(m), 'float16'), [m]);
        const res = gpu.upload(hostData(randn(rows * m, 4), 'float16'), [rows, m]);
        const q = gpu.quantizeRows(x);
        const threeCalls = gpu.dequantize(gpu.igemm(q.values, w), q.scales, ws, { dtype: 'float16', bias });
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias })), `${rows}x${m}x${k}`).toEqual(gpu.download(threeCalls));
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, residual: res }))).toEqual(gpu.download(gpu.add(res, threeCalls)));
      }
    });
  });

  it('the int8 linear with the RMS norm fused (rmsNorm) against layerNorm then linearInt8, on the GPU and the CPU', () => {
    tidy(() => {
      for (const [rows, m, k] of [[1, 4, 16], [3, 36, 208], [5, 1028, 4096], [8, 256, 10240], [2, 20480, 4096], [12, 64, 256]]) {
        const xh = hostData(randn(rows * k, 3), 'float16');
        const wh = randInt8(m * k);
        const wsh = hostData(Float32Array.from({ length: m }, () => 0.001 + random() * 0.01), 'float16');
        const nwh = hostData(Float32Array.from({ length: k }, () => 0.5 + random()), 'float16');
        const [xc, x] = both(cpu, gpu, xh, [rows, k]);
        const [wc, w] = both(cpu, gpu, wh, [m, k]);
        const [wsc, ws] = both(cpu, gpu, wsh, [m]);
        const [nwc, nw] = both(cpu, gpu, nwh, [k]);
        const res = gpu.upload(hostData(randn(rows * m, 4), 'float16'), [rows, m]);
        const eps = 1e-6;
        const fused = gpu.linearInt8(x, w, ws, { dtype: 'float16', rmsNorm: { weight: nw, eps } });
        const twoOps = gpu.linearInt8(gpu.layerNorm(x, nw, null, { eps, subtractMean: false }), w, ws, { dtype: 'float16' });
        const qc = cpu.quantizeRows(cpu.layerNorm(xc, nwc, null, { eps, subtractMean: false }));
        const ref = cpu.dequantize(cpu.igemm(qc.values, wc), qc.scales, wsc, { dtype: 'float16' });
        const tag = `${rows}x${m}x${k}`;
        // the sum of squares is added in another order: an element may round the other way, rarely
        expect(relErr(gpu.download(fused), gpu.download(twoOps)), tag).toBeLessThan(2e-2);
        expect(relErr(gpu.download(fused), cpu.download(ref)), tag).toBeLessThan(2e-2);
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', rmsNorm: { weight: nw, eps }, residual: res })), tag).toEqual(gpu.download(gpu.add(res, fused)));
      }
    });
  });

  it('the gated int8 linear (gelu(in) * gate in the epilogue) equals linearInt8, gelu and mul bit for bit, fused with the norm too', () => {
    tidy(() => {
      for (const [rows, f, k] of [[1, 2, 16], [3, 18, 208], [4, 514, 4096], [8, 128, 10240], [1, 10240, 4096], [7, 6, 64], [20, 66, 128]]) {
        const m = 2 * f;
        const x = gpu.upload(hostData(randn(rows * k, 3), 'float16'), [rows, k]);
        const w = gpu.upload(randInt8(m * k), [m, k]);
        const ws = gpu.upload(hostData(Float32Array.from({ length: m }, () => 0.001 + random() * 0.01), 'float16'), [m]);
        const nw = gpu.upload(hostData(Float32Array.from({ length: k }, () => 0.5 + random()), 'float16'), [k]);
        const res = gpu.upload(hostData(randn(rows * f, 4), 'float16'), [rows, f]);
        const tag = `${rows}x${m}x${k}`;
        const gatedRef = (y: Tensor) => gpu.mul(gpu.gelu(y.narrow(1, 0, f)), gpu.contiguous(y.narrow(1, f, f)));
        const y = gpu.linearInt8(x, w, ws, { dtype: 'float16' });
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', gated: true })), tag).toEqual(gpu.download(gatedRef(y)));
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', gated: true, residual: res })), tag).toEqual(gpu.download(gpu.add(res, gatedRef(y))));
        const yn = gpu.linearInt8(x, w, ws, { dtype: 'float16', rmsNorm: { weight: nw, eps: 1e-6 } });
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', gated: true, rmsNorm: { weight: nw, eps: 1e-6 } })), tag).toEqual(gpu.download(gatedRef(yn)));
      }
    });
  });

  it('the int8 linear with LayerNorm (mean, bias) and GELU fused (layerNorm, gelu) against the ops, on the GPU and the CPU', () => {
    tidy(() => {
      // GPT-2's shapes in small: qkv (3d x d) and the FFN's input (4d x d); 12 rows: the ops one after the other
      for (const [rows, m, k] of [[1, 4, 16], [3, 36, 208], [5, 1028, 2560], [8, 256, 10240], [2, 10240, 2560], [12, 64, 256]]) {
        const xh = hostData(randn(rows * k, 3), 'float16');
        const wh = randInt8(m * k);
        const wsh = hostData(Float32Array.from({ length: m }, () => 0.001 + random() * 0.01), 'float16');
        const nwh = hostData(Float32Array.from({ length: k }, () => 0.5 + random()), 'float16');
        const nbh = hostData(randn(k, 0.5), 'float16');
        const bh = hostData(randn(m, 0.5), 'float16');
        const [xc, x] = both(cpu, gpu, xh, [rows, k]);
        const [wc, w] = both(cpu, gpu, wh, [m, k]);
        const [wsc, ws] = both(cpu, gpu, wsh, [m]);
        const [nwc, nw] = both(cpu, gpu, nwh, [k]);
        const [nbc, nb] = both(cpu, gpu, nbh, [k]);
        const [bc, bias] = both(cpu, gpu, bh, [m]);
        const res = gpu.upload(hostData(randn(rows * m, 4), 'float16'), [rows, m]);
        const eps = 1e-5;
        const ln = { weight: nw, bias: nb, eps };
        const tag = `${rows}x${m}x${k}`;
        const fused = gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, layerNorm: ln });
        const twoOps = gpu.linearInt8(gpu.layerNorm(x, nw, nb, { eps, subtractMean: true }), w, ws, { dtype: 'float16', bias });
        const qc = cpu.quantizeRows(cpu.layerNorm(xc, nwc, nbc, { eps, subtractMean: true }));
        const ref = cpu.dequantize(cpu.igemm(qc.values, wc), qc.scales, wsc, { dtype: 'float16', bias: bc });
        // the mean and the sum of squares are added in another order: an element may round the other way, rarely
        expect(relErr(gpu.download(fused), gpu.download(twoOps)), tag).toBeLessThan(2e-2);
        expect(relErr(gpu.download(fused), cpu.download(ref)), tag).toBeLessThan(2e-2);
        // GELU in the epilogue: bit for bit gelu() of the same linear, with and without the norm and the residual
        const plain = gpu.linearInt8(x, w, ws, { dtype: 'float16', bias });
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, gelu: true })), tag).toEqual(gpu.download(gpu.gelu(plain)));
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, layerNorm: ln, gelu: true })), tag).toEqual(gpu.download(gpu.gelu(fused)));
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, layerNorm: ln, gelu: true, residual: res })), tag).toEqual(gpu.download(gpu.add(res, gpu.gelu(fused))));
        expect(gpu.download(gpu.linearInt8(x, w, ws, { dtype: 'float16', bias, layerNorm: ln, residual: res })), tag).toEqual(gpu.download(gpu.add(res, fused)));
      }
    });
  });

  it('the tensor-core GEMV linear (linear_mma) equals the dp4a one bit for bit, in each form, at 1-8 rows, and each its own splits (the tuner\'s candidates), with the weights through L1 or past it', () => {
    const saved = gpu.routes.gemvMmaMinRows;
    const savedSplit = gpu.routes.gemvSplitK;
    const savedTiles = gpu.routes.gemvMmaTiles;
    const savedPast = gpu.routes.weightsPastL1;
    const savedQ = gpu.routes.mmaQuantizedMinRows;
    // the GEMV kernels at 2-8 rows, not linear_mma_q, which takes them by default (cuda-linear-mma-q.test.ts)
    gpu.routes.mmaQuantizedMinRows = 9;
    try {
      tidy(() => {
        // CPM-2's shape first (its 48 KiB of dynamic shared memory need the opt-in, which a larger k
        // run before it would have set), then odd tile counts (37 tiles of 16 rows, 3 gated tiles), k of 7
        // and 160 steps of 64, one tile
        for (const [m, k] of [[4096, 4096], [592, 448], [48, 10240], [16, 64]]) {
          for (const rows of [1, 2, 3, 5, 8]) {
            const x = gpu.upload(hostData(randn(rows * k, 3), 'float16'), [rows, k]);
            const w = gpu.upload(randInt8(m * k), [m, k]);
            const ws = gpu.upload(hostData(Float32Array.from({ length: m }, () => 0.001 + random() * 0.01), 'float16'), [m]);
            const bias = gpu.upload(hostData(randn(m), 'float16'), [m]);
            const nw = gpu.upload(hostData(Float32Array.from({ length: k }, () => 0.5 + random()), 'float16'), [k]);
            const nb = gpu.upload(hostData(randn(k, 0.5), 'float16'), [k]);
            const res = gpu.upload(hostData(randn(rows * m, 4), 'float16'), [rows, m]);
            const resHalf = gpu.upload(hostData(randn((rows * m) / 2, 4), 'float16'), [rows, m / 2]);
            const tag = `${rows}x${m}x${k}`;
            const forms: [string, Parameters<typeof gpu.linearInt8>[3], boolean][] = [
              ['plain', { dtype: 'float16', bias, residual: res }, true],
              ['gated', { dtype: 'float16', gated: true, residual: resHalf }, true],
              // the norm's sum of squares is added in another order unless both split a row over 2 warps
              // (linear_mma always; linear_gemv at 3-4 rows)
              ['norm', { dtype: 'float16', rmsNorm: { weight: nw, eps: 1e-6 } }, rows === 3],
              ['norm+gated', { dtype: 'float16', gated: true, rmsNorm: { weight: nw, eps: 1e-6 } }, rows === 3],
              ['gelu', { dtype: 'float16', bias, gelu: true, residual: res }, true],
              ['ln+gelu', { dtype: 'float16', bias, gelu: true, layerNorm: { weight: nw, bias: nb, eps: 1e-5 } }, rows === 3],
            ];
            for (const [form, options, exact] of forms) {
              gpu.routes.gemvMmaMinRows = 1;
              const mma = gpu.download(gpu.linearInt8(x, w, ws, options));
              gpu.routes.gemvMmaMinRows = 0;
              gpu.routes.gemvSplitK = 0;
              const dp4a = gpu.download(gpu.linearInt8(x, w, ws, options));
              if (exact) expect(mma, `${form} ${tag}`).toEqual(dp4a);
              else expect(relErr(mma, dp4a), `${form} ${tag}`).toBeLessThan(2e-2);
              // k split over 1, 2, 4 or 8 warps: integer sums, so the same bits; and the weights loaded past
              // L1 (the same values)
              for (const past of [false, true]) {
                gpu.routes.weightsPastL1 = past;
                gpu.routes.gemvMmaMinRows = 1;
                for (const mt of [1, 2, 4, 8].filter((t) => t === 1 || t <= m / 16)) {
                  gpu.routes.gemvMmaTiles = mt;
                  expect(firstDifference(gpu.download(gpu.linearInt8(x, w, ws, options)), mma), `${form} ${tag} mma mt ${mt}${past ? ' past L1' : ''}`).toBe('identical');
                }
                gpu.routes.gemvMmaTiles = savedTiles;
                gpu.routes.gemvMmaMinRows = 0;
                for (const ks of [1, 2, 4, 8]) {
                  gpu.routes.gemvSplitK = ks;
                  expect(firstDifference(gpu.download(gpu.linearInt8(x, w, ws, options)), dp4a), `${form} ${tag} ks ${ks}${past ? ' past L1' : ''}`).toBe('identical');
                }
              }
              gpu.routes.weightsPastL1 = savedPast;
            }
          }
        }
      });
    } finally {
      gpu.routes.mmaQuantizedMinRows = savedQ;
      gpu.routes.gemvMmaMinRows = saved;
      gpu.routes.gemvSplitK = savedSplit;
      gpu.routes.gemvMmaTiles = savedTiles;
      gpu.routes.weightsPastL1 = savedPast;
    }
  });

  it.each([26240, 30001])('argmaxRows (%i columns) equals the CPU one (ties, NaN, rows without a choice), eagerly and inside a captured step', async (n) => {
    const rows = 6;
    const values = Float32Array.from(randn(rows * n, 3));
    for (let k = 0; k < rows * n; k++) {
      const u = random();
      if (u < 0.02) values[k] = NaN;
      else if (u < 0.03) values[k] = 9; // ties at the top
    }
    values.fill(-Infinity, 2 * n, 3 * n);
    values.fill(NaN, 3 * n, 4 * n);
    const [xc, xg] = both(cpu, gpu, values, [rows, n]);
    const want = Array.from(cpu.download(cpu.argmaxRows?.(xc) as Tensor) as Int32Array);
    expect(want[2]).toBe(-1);
    expect(want[3]).toBe(-1);
    expect(Array.from(gpu.download(gpu.argmaxRows(xg)) as Int32Array)).toEqual(want);
    const exclude = want[0];
    expect(Array.from(gpu.download(gpu.argmaxRows(xg, { exclude })) as Int32Array)).toEqual(Array.from(cpu.download(cpu.argmaxRows?.(xc, { exclude }) as Tensor) as Int32Array));
    const ids = gpu.zeros([rows], 'int32');
    const step = gpu.captureStep(() => gpu.copy(gpu.argmaxRows(xg), ids));
    try {
      await step.run();
      expect(Array.from(gpu.download(ids) as Int32Array)).toEqual(want);
    } finally {
      step.dispose();
      ids.dispose();
    }
  });

  it('refuses host reads inside a capture and leaves no capture behind', () => {
    const t = gpu.zeros([4], 'float32');
    expect(() => gpu.captureStep(() => void gpu.download(gpu.add(t, t)))).toThrow(/cannot read back/);
    // the backend is usable afterwards, and a fresh capture works
    expect(gpu.download(gpu.add(t, t))).toEqual(new Float32Array(4));
    gpu.captureStep(() => void gpu.add(t, t)).dispose();
  });

  it('fillRandom draws int8 over [-127, 127] and float16 of the asked magnitude on the GPU', () => {
    tidy(() => {
      const a = gpu.empty([1 << 16], 'int8');
      gpu.fillRandom(a, 7);
      const h = gpu.download(a) as Int8Array;
      expect(Math.min(...h)).toBe(-127);
      expect(Math.max(...h)).toBe(127);
      expect(Math.abs(h.reduce((s, v) => s + v, 0) / h.length)).toBeLessThan(2);
      const f = gpu.empty([4096], 'float16');
      gpu.fillRandom(f, 7, 0.01);
      const fv = gpu.download(gpu.cast(f, 'float32')) as Float32Array;
      for (const v of fv) expect(Math.abs(v) >= 2 ** -7 && Math.abs(v) < 2 ** -6).toBe(true);
    });
  });
});
