// The int8 linear for more rows than the GEMV takes (an encoder's): its norm fused with the quantize
// (norm_quantize) and its GELU and residual add in the Hopper kernel's epilogue must give the bits of
// the separate ops, on fresh random data at awkward sizes (rows 9, 130, 513, 1000; k 4096 and 4160 =
// 65 x 64; features not a multiple of any tile). Against the CPU backend: bit for bit where no norm and
// no GELU is involved, else within float16 tolerance (the CPU sums the norm's statistics in double and
// takes its own exp). Skips, saying why, without a GPU; the epilogue's cases without the Hopper kernel.
import { type Backend, type Tensor, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { TOL, both, f16, firstDifference, positiveF16, randInt8, relErr, seedUsed, testMemoryLimit, withRoutes } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

type Options = Parameters<CudaBackend['linearInt8']>[3];

describe.skipIf(!avail.available)('the int8 linear beyond 8 rows: norm with the quantize, GELU and residual in the epilogue', () => {
  let gpu: CudaBackend;
  let cpu: Backend;
  let hopper: string | null = null;
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
    cpu = createCpuBackend();
    hopper = gpu.sm90.ready() ? null : gpu.sm90.unavailable;
    if (hopper) console.log(`[gpu tests] the Hopper epilogue not tested: ${hopper}`);
  });
  afterAll(() => gpu?.dispose());

  it.each([9, 130, 513, 1000])('normQuantizeRows (%i rows) equals quantizeRows(layerNorm(x)) bit for bit, RMS and LayerNorm, and the CPU within tolerance', (rows) => {
    tidy(() => {
      for (const k of [4096, 4160, 2560, 8, 10240]) {
        const [xc, x] = both(cpu, gpu, f16(rows * k, 3), [rows, k]);
        const [wc, w] = both(cpu, gpu, positiveF16(k, 0.5, 1), [k]);
        const [bc, b] = both(cpu, gpu, f16(k, 0.5), [k]);
        for (const [form, bias, subtractMean, eps] of [['rms', false, false, 1e-6], ['ln', true, true, 1e-5], ['ln, no bias', false, true, 1e-5], ['rms, bias', true, false, 1e-6]] as const) {
          const tag = `${form} ${rows}x${k}`;
          const o = { eps, subtractMean };
          const fused = gpu.normQuantizeRows(x, w, bias ? b : null, o);
          const xn = gpu.layerNorm(x, w, bias ? b : null, o);
          const twoOps = gpu.quantizeRows(xn);
          expect(firstDifference(gpu.download(fused.values), gpu.download(twoOps.values)), tag).toBe('identical');
          expect(firstDifference(gpu.download(fused.scales), gpu.download(twoOps.scales)), tag).toBe('identical');
          const ref = cpu.layerNorm(xc, wc, bias ? bc : null, o);
          expect(relErr(gpu.download(xn), cpu.download(ref)), tag).toBeLessThan(TOL.float16 * 5);
        }
      }
    });
  });

  it('normQuantizeRows falls back to the two ops where the row kernels do not fit (k % 8 != 0, a misaligned view)', () => {
    tidy(() => {
      for (const [rows, k] of [[9, 4100], [130, 20]]) {
        const x = gpu.upload(f16(rows * k, 3), [rows, k]);
        const w = gpu.upload(positiveF16(k, 0.5, 1), [k]);
        const o = { eps: 1e-6, subtractMean: false };
        const fused = gpu.normQuantizeRows(x, w, null, o);
        const twoOps = gpu.quantizeRows(gpu.layerNorm(x, w, null, o));
        expect(firstDifference(gpu.download(fused.values), gpu.download(twoOps.values))).toBe('identical');
      }
      const wide = gpu.upload(f16(20 * 4104, 3), [20, 4104]);
      const x = wide.narrow(1, 4, 4096); // rows 8 bytes off 16-byte alignment, not packed
      const w = gpu.upload(positiveF16(4096, 0.5, 1), [4096]);
      const o = { eps: 1e-6, subtractMean: true };
      const fused = gpu.normQuantizeRows(x, w, null, o);
      const twoOps = gpu.quantizeRows(gpu.layerNorm(x, w, null, o));
      expect(firstDifference(gpu.download(fused.values), gpu.download(twoOps.values))).toBe('identical');
    });
  });

  // Each form through the product three ways: the fused kernel with its epilogue (every tile), the fused
  // kernel with the ops after it, and the three calls with the ops after them; all bit for bit alike.
  // The norm fused with the quantize against layerNorm then quantizeRows, likewise.
  const cases: [number, number, number][] = [[9, 4096, 776], [130, 4160, 1032], [513, 4096, 4096], [1000, 4160, 264]];
  for (const [rows, k, m] of cases) {
    it(`linearInt8 ${rows} x ${k} -> ${m}: residual, GELU and norm forms equal the separate ops bit for bit, and the CPU`, (ctx) => {
      if (hopper) ctx.skip();
      tidy(() => {
        const [xc, x] = both(cpu, gpu, f16(rows * k, 3), [rows, k]);
        const [wc, w] = both(cpu, gpu, randInt8(m * k), [m, k]);
        const [wsc, ws] = both(cpu, gpu, positiveF16(m, 0.001, 0.01), [m]);
        const [bc, bias] = both(cpu, gpu, f16(m, 0.5), [m]);
        const [rc, res] = both(cpu, gpu, f16(rows * m, 4), [rows, m]);
        const [nwc, nw] = both(cpu, gpu, positiveF16(k, 0.5, 1), [k]);
        const [nbc, nb] = both(cpu, gpu, f16(k, 0.5), [k]);
        const forms: [string, Options, Options, boolean][] = [
          ['residual', { dtype: 'float16', residual: res }, { dtype: 'float16', residual: rc }, true],
          ['bias+residual', { dtype: 'float16', bias, residual: res }, { dtype: 'float16', bias: bc, residual: rc }, true],
          ['gelu', { dtype: 'float16', bias, gelu: true }, { dtype: 'float16', bias: bc, gelu: true }, false],
          ['gelu+residual', { dtype: 'float16', gelu: true, residual: res }, { dtype: 'float16', gelu: true, residual: rc }, false],
          ['rms+residual', { dtype: 'float16', rmsNorm: { weight: nw, eps: 1e-6 }, residual: res }, { dtype: 'float16', rmsNorm: { weight: nwc, eps: 1e-6 }, residual: rc }, false],
          [
            'ln+gelu',
            { dtype: 'float16', bias, gelu: true, layerNorm: { weight: nw, bias: nb, eps: 1e-5 } },
            { dtype: 'float16', bias: bc, gelu: true, layerNorm: { weight: nwc, bias: nbc, eps: 1e-5 } },
            false,
          ],
          [
            'ln+gelu+residual',
            { dtype: 'float16', gelu: true, residual: res, layerNorm: { weight: nw, eps: 1e-5 } },
            { dtype: 'float16', gelu: true, residual: rc, layerNorm: { weight: nwc, eps: 1e-5 } },
            false,
          ],
        ];
        for (const [form, options, cpuOptions, exact] of forms) {
          const tag = `${form} ${rows}x${k}x${m}`;
          const ops = withRoutes(gpu, { fusedLinear: false, normQuantize: false }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
          for (const tile of ['a', 'b', 't', 'a2'] as const) {
            gpu.sm90.tile = tile;
            try {
              const fused = withRoutes(gpu, { fusedLinearMinRows: 1, fusedLinearTune: false }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
              expect(firstDifference(fused, ops), `${tag} tile ${tile}`).toBe('identical');
            } finally {
              gpu.sm90.tile = null;
            }
          }
          const opsAfter = withRoutes(gpu, { fusedLinearMinRows: 1, fusedLinearTune: false, fusedEpilogue: false }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
          expect(firstDifference(opsAfter, ops), `${tag} ops after the fused kernel`).toBe('identical');
          const normFusedCalls = withRoutes(gpu, { fusedLinear: false }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
          expect(firstDifference(normFusedCalls, ops), `${tag} three calls, norm with the quantize`).toBe('identical');
          // the default plan: timed once per shape and epilogue, whichever wins gives these bits
          expect(firstDifference(gpu.download(gpu.linearInt8(x, w, ws, options)), ops), `${tag} timed`).toBe('identical');
          // with the fused kernel's tile timed too (RoutePolicy.fusedTileTune), whichever wins
          const tilesTimed = withRoutes(gpu, { fusedTileTune: true }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
          expect(firstDifference(tilesTimed, ops), `${tag} tiles timed`).toBe('identical');
          const ref = cpu.download(cpu.linearInt8?.(xc, wc, wsc, cpuOptions) as Tensor);
          if (exact) expect(firstDifference(ops, ref), `${tag} CPU`).toBe('identical');
          else expect(relErr(ops, ref), `${tag} CPU`).toBeLessThan(2e-2);
        }
      });
    });
  }

  it('the timed choice keys the epilogue: each form is timed apart from the plain linear', (ctx) => {
    if (hopper) ctx.skip();
    tidy(() => {
      const [rows, k, m] = [512, 4096, 4096];
      const x = gpu.upload(f16(rows * k, 3), [rows, k]);
      const w = gpu.upload(randInt8(m * k), [m, k]);
      const ws = gpu.upload(positiveF16(m, 0.001, 0.01), [m]);
      const res = gpu.upload(f16(rows * m, 4), [rows, m]);
      // with tileFor's tile alone (RoutePolicy.fusedTileTune off): fused or not, a key per form
      withRoutes(gpu, { fusedTileTune: false }, () => {
        gpu.linearInt8(x, w, ws, { dtype: 'float16' });
        gpu.linearInt8(x, w, ws, { dtype: 'float16', residual: res });
        gpu.linearInt8(x, w, ws, { dtype: 'float16', gelu: true, residual: res });
        // the gated kernel (RoutePolicy.gatedEpilogue, on by default): its form has a key too
        gpu.linearInt8(x, w, ws, { dtype: 'float16', gated: true, residual: gpu.contiguous(res.narrow(1, 0, m / 2)) });
      });
      for (const key of ['2:4096:4096:0', '2:4096:4096:0:residual', '2:4096:4096:0:gelu:residual', '2:4096:4096:0:gated:residual']) {
        expect(gpu.tuner.fusedChoice.has(key), key).toBe(true);
      }
      // with the tiles timed (the default), a key of their own (the tiles named), holding a tile or null (the three calls)
      gpu.linearInt8(x, w, ws, { dtype: 'float16', residual: res });
      const choice = gpu.tuner.fusedTileChoice.get('2:4096:4096:0:residual:a,t,b,a2');
      expect(choice === null || ['a', 't', 'b', 'a2'].includes(choice as string), String(choice)).toBe(true);
    });
  });

  // f = 1032: whole 8-output chunks, but not whole tiles (the last tile's in box reads gate rows, its gate
  // box runs off the weight: zero-filled); f = 516: f % 8 != 0, the plain kernel and gelu_mul after it.
  it.each([9, 130, 513, 1000])('the gated FFN input (%i rows; RMS norm, bias, residual) equals linearInt8, gelu, mul and add bit for bit, every way', (rows) => {
    tidy(() => {
      for (const [k, f] of [[4096, 1280], [4160, 1032], [4096, 516]]) {
        const m = 2 * f;
        const [xc, x] = both(cpu, gpu, f16(rows * k, 3), [rows, k]);
        const [wc, w] = both(cpu, gpu, randInt8(m * k), [m, k]);
        // scales small enough that gelu(in) * gate stays finite without the norm (x of magnitude 3 over
        // k = 4096 made products of ~500 and overflowed float16 to inf on both sides: inf - inf is NaN)
        const [wsc, ws] = both(cpu, gpu, positiveF16(m, 0.0002, 0.002), [m]);
        const [bc, bias] = both(cpu, gpu, f16(m, 0.5), [m]);
        const [nwc, nw] = both(cpu, gpu, positiveF16(k, 0.5, 1), [k]);
        const [rc, res] = both(cpu, gpu, f16(rows * f, 4), [rows, f]);
        const tag = `${rows}x${m}x${k}`;
        const norm = { weight: nw, eps: 1e-6 };
        for (const [form, options] of [
          ['gated', { dtype: 'float16', gated: true }],
          ['gated+bias+residual', { dtype: 'float16', gated: true, bias, residual: res }],
          ['rms+gated+residual', { dtype: 'float16', gated: true, rmsNorm: norm, residual: res }],
        ] as [string, Options][]) {
          // the ops one by one: layerNorm, quantize + igemm + dequantize, gelu, mul, add
          const xn = options.rmsNorm ? gpu.layerNorm(x, nw, null, { eps: 1e-6, subtractMean: false }) : x;
          const y = withRoutes(gpu, { fusedLinear: false }, () => gpu.linearInt8(xn, w, ws, { dtype: 'float16', ...(options.bias ? { bias } : {}) }));
          const g = gpu.mul(gpu.gelu(y.narrow(1, 0, f)), gpu.contiguous(y.narrow(1, f, f)));
          const want = gpu.download(options.residual ? gpu.add(res, g) : g);
          const t = `${form} ${tag}`;
          if (!hopper) {
            for (const tile of ['a', 'b', 't', 'a2'] as const) {
              gpu.sm90.tile = tile;
              try {
                const got = withRoutes(gpu, { fusedLinearMinRows: 1, fusedLinearTune: false, gatedEpilogue: true }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
                expect(firstDifference(got, want), `${t} tile ${tile}`).toBe('identical');
              } finally {
                gpu.sm90.tile = null;
              }
            }
          }
          const calls = withRoutes(gpu, { fusedLinear: false }, () => gpu.download(gpu.linearInt8(x, w, ws, options)));
          expect(firstDifference(calls, want), `${t} three calls, gelu_mul`).toBe('identical');
          expect(firstDifference(gpu.download(gpu.linearInt8(x, w, ws, options)), want), `${t} timed`).toBe('identical');
          if (form === 'rms+gated+residual') {
            const ref = cpu.linearInt8?.(xc, wc, wsc, { dtype: 'float16', gated: true, rmsNorm: { weight: nwc, eps: 1e-6 }, residual: rc }) as Tensor;
            expect(relErr(want, cpu.download(ref)), `${t} CPU`).toBeLessThan(2e-2);
          } else if (form === 'gated+bias+residual') {
            const ref = cpu.linearInt8?.(xc, wc, wsc, { dtype: 'float16', gated: true, bias: bc, residual: rc }) as Tensor;
            expect(relErr(want, cpu.download(ref)), `${t} CPU`).toBeLessThan(2e-2);
          }
        }
      }
    });
  });
});
