// BMInf's int8 path: quantizeRows and igemm bit-exact against the plain references on every kernel
// path this machine has (plain, AVX2, AVX-512 VNNI), dequantize exact to the float32 reference.
import { type Tensor, float16BitsToFloat32, toFloat16Array } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, nativeCpu as N, reference } from '@bminf/kernels';
import { backend, onEveryIsa, randomInt8, randomValues, rng, tensorOf, valuesOf } from './helpers.js';

const SIZES = [1, 3, 17, 255, 1000];

afterEach(() => CpuBackend.setPlainKernels(false));

describe('quantizeRows', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`matches the reference bit for bit on every kernel path (${dtype}, awkward sizes)`, () => {
      onEveryIsa((isa) => {
        const r = rng(1);
        for (const rows of [1, 3, 17]) {
          for (const cols of [...SIZES, 15, 16, 33, 64, 65]) {
            const x = randomValues(r, rows * cols, dtype, 10 ** (r() * 6 - 3));
            const t = tensorOf(x, [rows, cols], dtype);
            const q = backend.quantizeRows(t);
            const want = reference.quantizeRows(x, rows, cols);
            expect(q.values.shape).toEqual([rows, cols]);
            expect(q.scales.dtype).toBe('float16');
            expect(backend.download(q.values), `${isa} ${rows}x${cols}`).toEqual(want.values);
            expect(backend.download(q.scales), `${isa} ${rows}x${cols}`).toEqual(want.scales);
          }
        }
      });
    });
  }

  it('rounds ties (x / scale = k + 0.5) to even, clamps to ±127, and gives zero rows scale 0', () => {
    // Row 0: absmax 127 makes scale exactly 1, so x/scale = x: ties at ±0.5, ±1.5, ±2.5, 126.5.
    const row0 = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5];
    const row1 = new Array(8).fill(0);
    // Row 2: absmax 254 → scale 2: 5 / 2 = 2.5 → 2, 7 / 2 = 3.5 → 4.
    const row2 = [254, 5, 7, -5, -7, 0, 1, -254];
    const x = [...row0, ...row1, ...row2];
    const q = backend.quantizeRows(tensorOf(x, [3, 8], 'float32'));
    const values = Array.from(backend.download(q.values));
    expect(values.slice(0, 8)).toEqual([127, 0, 2, 2, 0, -2, -2, 126]);
    expect(values.slice(8, 16)).toEqual(new Array(8).fill(0));
    expect(values.slice(16)).toEqual([127, 2, 4, -2, -4, 0, 0, -127]);
    const scales = Array.from(backend.download(q.scales) as Uint16Array).map(float16BitsToFloat32);
    expect(scales).toEqual([1, 0, 2]);
    expect(values).toEqual(Array.from(reference.quantizeRows(x, 3, 8).values));
  });

  it('divides by the float16-rounded scale, not the exact one', () => {
    // absmax 100: 100/127 rounds to 0.78759765625 in float16, and 100 / that = 126.97 → 127.
    const x = [100, 50, 25, 12.5, -100];
    const q = backend.quantizeRows(tensorOf(x, [1, 5], 'float32'));
    expect(float16BitsToFloat32((backend.download(q.scales) as Uint16Array)[0])).toBe(0.78759765625);
    expect(Array.from(backend.download(q.values))).toEqual(Array.from(reference.quantizeRows(x, 1, 5).values));
  });

  it('gives the same bits on every kernel path, NaN and infinity included', () => {
    const r = rng(2);
    const x = randomValues(r, 37 * 1000, 'float16', 3);
    x[5] = Number.NaN; // row 0: NaN is skipped by absmax and quantizes to 0
    x[1000 + 7] = Number.POSITIVE_INFINITY; // row 1: scale inf, everything 0
    x[2000 + 999] = Number.NaN; // row 2: in the scalar (AVX2) or masked (AVX-512) tail
    const t = tensorOf(x, [37, 1000], 'float16');
    const want = reference.quantizeRows(x, 37, 1000);
    onEveryIsa((isa) => {
      const q = backend.quantizeRows(t);
      expect(backend.download(q.values), isa).toEqual(want.values);
      expect(backend.download(q.scales), isa).toEqual(want.scales);
    });
  });
});

describe('igemm', () => {
  it('is exact against the integer reference at awkward sizes, on every kernel path', () => {
    onEveryIsa((isa) => {
      const r = rng(3);
      // m: the few-row (block) kernels up to 4 rows, packed beyond (12-row tiles with VNNI); n: 4- and
      // 8-wide tiles and 16/32-column slivers with tails; k: 64-byte vectors with masked tails.
      for (const m of [1, 2, 3, 4, 5, 13, 17]) {
        for (const n of [1, 3, 9, 17, 33, 255]) {
          for (const k of [...SIZES, 4, 63, 64, 65, 514]) {
            const a = randomInt8(r, m * k);
            const b = randomInt8(r, n * k);
            const c = backend.igemm(backend.upload(a, [m, k]), backend.upload(b, [n, k]));
            expect(c.dtype).toBe('int32');
            expect(c.shape).toEqual([m, n]);
            expect(backend.download(c), `${isa}: m ${m} n ${n} k ${k}`).toEqual(reference.igemm(a, b, m, n, k));
          }
        }
      }
    });
  });

  it('is exact at the extremes (±127 and -128 everywhere), on every kernel path', () => {
    onEveryIsa((isa) => {
      for (const [va, vb] of [[127, 127], [-128, -128], [-128, 127], [127, -127]]) {
        // m = 1 and 5: the few-row and the packed kernels; k past one cache block (2048 / 512).
        for (const m of [1, 5, 24]) {
          const n = 21, k = 4099;
          const a = new Int8Array(m * k).fill(va);
          const b = new Int8Array(n * k).fill(vb);
          const c = backend.download(backend.igemm(backend.upload(a, [m, k]), backend.upload(b, [n, k])));
          expect(Array.from(c), `${isa}: ${va} x ${vb}, m ${m}`).toEqual(new Array(m * n).fill(va * vb * k));
        }
      }
      // The largest k: |sums| reach 2³¹ - 2¹⁴, where VNNI's offset sums pass int32 and wrap back (m = 1:
      // the one-row kernel; m = 2: the few-row one).
      const k = 131071;
      for (const m of [1, 2]) {
        const c = backend.download(backend.igemm(backend.upload(new Int8Array(m * k).fill(-128), [m, k]), backend.upload(new Int8Array(3 * k).fill(-128), [3, k])));
        expect(Array.from(c), `${isa}: m ${m}`).toEqual(new Array(3 * m).fill(128 * 128 * k));
      }
    });
  });

  it('is exact for one row by weights of 4 MiB or more (the streamed decode GEMV), at awkward k and offsets, on every kernel path', () => {
    // (native/src/cpu/gemm_kernels.h, kIgemmRowMinBytes: from 4 MiB of weights, one row of A takes
    // the AVX-512 path's row kernel; its pieces: a masked head up to a 64-byte boundary, 256-byte
    // iterations, up to 3 whole 64-byte steps, a masked tail.)
    const minBytes = 4 << 20;
    const r = rng(5);
    for (const [i, k] of [1, 63, 65, 191, 257, 319, 1283].entries()) {
      const n = Math.ceil(minBytes / k) + (i % 5);
      const a = randomInt8(r, k);
      const b = randomInt8(r, n * k);
      const want = reference.igemm(a, b, 1, n, k);
      const at = i % 3; // the weights at offset 0, 1 or 2 of their storage
      const storage = new Int8Array(n * k + at);
      storage.set(b, at);
      const w = backend.upload(storage, [n * k + at]).narrow(0, at, n * k).reshape([n, k]);
      const x = backend.upload(a, [1, k]);
      onEveryIsa((isa) => {
        const got = backend.download(backend.igemm(x, w)) as Int32Array;
        expect(got.length).toBe(n);
        // (compared by hand: toEqual on millions of elements is slow)
        const bad = got.findIndex((v, j) => v !== want[j]);
        expect(bad, `${isa}: n ${n} k ${k} offset ${at}: element ${bad} is ${got[bad]}, not ${want[bad]}`).toBe(-1);
      });
    }
    // The extremes at the largest k, where VNNI's offset sums wrap.
    const k = 131071;
    const n = Math.ceil(minBytes / k);
    const x = backend.upload(new Int8Array(k).fill(-128), [1, k]);
    const w = backend.upload(new Int8Array(n * k).fill(-128), [n, k]);
    onEveryIsa((isa) => expect(Array.from(backend.download(backend.igemm(x, w))), isa).toEqual(new Array(n).fill(128 * 128 * k)));
  });

  it('is exact for larger shapes that take the blocked, threaded paths, on every kernel path', () => {
    onEveryIsa((isa) => {
      const r = rng(4);
      // (m = 1: a decode step's GEMV, its weight rows split between threads.)
      for (const [m, n, k] of [[64, 300, 2100], [300, 40, 513], [150, 2100, 70], [1, 1500, 2100]]) {
        const a = randomInt8(r, m * k);
        const b = randomInt8(r, n * k);
        const c = backend.igemm(backend.upload(a, [m, k]), backend.upload(b, [n, k]));
        expect(backend.download(c), `${isa}: m ${m} n ${n} k ${k}`).toEqual(reference.igemm(a, b, m, n, k));
      }
    });
  });
});

describe('dequantize', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`is exact to the float32 reference on every kernel path, with and without bias (${dtype})`, () => {
      const r = rng(6);
      for (const [m, n] of [[1, 1], [3, 17], [17, 255], [2, 1000], [1, 8000], [2, 7]]) {
        const acc = Int32Array.from({ length: m * n }, () => Math.floor((r() * 2 - 1) * 2 ** 24));
        const rs = toFloat16Array(randomValues(r, m, 'float32', 0.1));
        const cs = toFloat16Array(randomValues(r, n, 'float32', 0.1));
        const bias = randomValues(r, n, dtype);
        for (const withBias of [false, true]) {
          const want = reference.dequantize(acc, rs, cs, withBias ? bias : null, m, n);
          const wantRounded = dtype === 'float16' ? Array.from(want, (v) => float16BitsToFloat32(toFloat16Array([v])[0])) : Array.from(want);
          onEveryIsa((isa) => {
            const out = backend.dequantize(backend.upload(acc, [m, n]), backend.upload(rs, [m]), backend.upload(cs, [n]), {
              dtype,
              ...(withBias ? { bias: tensorOf(bias, [n], dtype) } : {}),
            });
            expect(out.dtype).toBe(dtype);
            expect(valuesOf(out), `${isa} ${m}x${n} bias ${withBias}`).toEqual(wantRounded);
          });
        }
      }
    });
  }

  it('runs the whole W8A8 linear close to the float product', () => {
    const r = rng(7);
    const [m, n, k] = [4, 33, 300];
    const x = randomValues(r, m * k, 'float32');
    const w = randomValues(r, n * k, 'float32');
    const qx = backend.quantizeRows(tensorOf(x, [m, k], 'float32'));
    const qw = backend.quantizeRows(tensorOf(w, [n, k], 'float32'));
    const y = valuesOf(backend.dequantize(backend.igemm(qx.values, qw.values), qx.scales, qw.scales, { dtype: 'float32' }));
    const want = reference.gemm(x, w, { batch: 1, m, n, k, transB: true });
    const err = Math.max(...y.map((v, i) => Math.abs(v - want[i])));
    expect(err).toBeLessThan(0.15); // int8 rounding: about sqrt(k) · (1/127)² · |x||w| scale
    expect(err).toBeGreaterThan(0); // and it really went through int8
  });
});

describe('linearInt8', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`gives the bits of quantizeRows → igemm → dequantize (→ add) on every kernel path (${dtype})`, () => {
      const r = rng(8);
      for (const [n, m, k] of [[1, 1, 1], [1, 768, 256], [3, 17, 65], [5, 33, 300], [17, 255, 64], [40, 7, 1000]]) {
        const x = tensorOf(randomValues(r, n * k, dtype), [n, k], dtype);
        const w = backend.quantizeRows(tensorOf(randomValues(r, m * k, 'float32'), [m, k], 'float32'));
        const bias = tensorOf(randomValues(r, m, dtype), [m], dtype);
        const residual = tensorOf(randomValues(r, n * m, dtype, 4), [n, m], dtype);
        for (const withBias of [false, true]) {
          for (const withResidual of [false, true]) {
            onEveryIsa((isa) => {
              const opts = { dtype, ...(withBias ? { bias } : {}) };
              const q = backend.quantizeRows(x);
              let want = backend.dequantize(backend.igemm(q.values, w.values), q.scales, w.scales, opts);
              if (withResidual) want = backend.add(residual, want);
              const got = backend.linearInt8(x, w.values, w.scales, { ...opts, ...(withResidual ? { residual } : {}) });
              expect(got.shape).toEqual([n, m]);
              expect(got.dtype).toBe(dtype);
              expect(backend.download(got), `${isa} ${n}x${m}x${k} bias ${withBias} residual ${withResidual}`).toEqual(backend.download(want));
            });
          }
        }
      }
    });
  }

  it('runs its fused forms (rmsNorm, layerNorm, gelu, gated) as the ops they stand for, bit for bit', () => {
    const r = rng(9);
    const [n, m, k] = [3, 10, 24];
    const x = tensorOf(randomValues(r, n * k, 'float16', 3), [n, k], 'float16');
    const w = backend.quantizeRows(tensorOf(randomValues(r, m * k, 'float32'), [m, k], 'float32'));
    const bias = tensorOf(randomValues(r, m, 'float16'), [m], 'float16');
    const nw = tensorOf(randomValues(r, k, 'float16'), [k], 'float16');
    const nb = tensorOf(randomValues(r, k, 'float16'), [k], 'float16');
    const res = tensorOf(randomValues(r, n * m, 'float16'), [n, m], 'float16');
    const resHalf = tensorOf(randomValues(r, (n * m) / 2, 'float16'), [n, m / 2], 'float16');
    const lin = (t: Tensor) => backend.linearInt8(t, w.values, w.scales, { dtype: 'float16', bias });
    const ln = backend.layerNorm(x, nw, nb, { eps: 1e-5, subtractMean: true });
    const rms = backend.layerNorm(x, nw, null, { eps: 1e-6, subtractMean: false });
    const f = m / 2;
    const gated = (y: Tensor) => backend.mul(backend.gelu(y.narrow(1, 0, f)), y.narrow(1, f, f));
    const cases: [string, Parameters<NonNullable<typeof backend.linearInt8>>[3], Tensor][] = [
      ['layerNorm', { dtype: 'float16', bias, layerNorm: { weight: nw, bias: nb, eps: 1e-5 } }, lin(ln)],
      ['layerNorm+gelu+residual', { dtype: 'float16', bias, layerNorm: { weight: nw, bias: nb, eps: 1e-5 }, gelu: true, residual: res }, backend.add(res, backend.gelu(lin(ln)))],
      ['gelu', { dtype: 'float16', bias, gelu: true }, backend.gelu(lin(x))],
      ['rmsNorm+gated+residual', { dtype: 'float16', bias, rmsNorm: { weight: nw, eps: 1e-6 }, gated: true, residual: resHalf }, backend.add(resHalf, gated(lin(rms)))],
    ];
    for (const [what, options, want] of cases) expect(backend.download(backend.linearInt8(x, w.values, w.scales, options)), what).toEqual(backend.download(want));
    expect(() => backend.linearInt8(x, w.values, w.scales, { dtype: 'float16', gated: true, gelu: true })).toThrow(/gated or gelu, not both/);
    expect(() => backend.linearInt8(x, w.values, w.scales, { dtype: 'float16', rmsNorm: { weight: nw, eps: 1e-6 }, layerNorm: { weight: nw, eps: 1e-5 } })).toThrow(/rmsNorm or layerNorm, not both/);
  });

  it('checks its arguments with typed errors, natively too', () => {
    const x = backend.zeros([2, 4], 'float16');
    const w = backend.zeros([3, 4], 'int8');
    const s = backend.zeros([3], 'float16');
    expect(() => backend.linearInt8(x, w, s, { dtype: 'float16' })).not.toThrow();
    expect(() => backend.linearInt8(x, backend.zeros([3, 5], 'int8'), s, { dtype: 'float16' })).toThrow(/must agree in k/);
    expect(() => backend.linearInt8(x, w, backend.zeros([2], 'float16'), { dtype: 'float16' })).toThrow(/weightScale must have shape \[3\]/);
    expect(() => backend.linearInt8(x, w, s, { dtype: 'float16', bias: backend.zeros([3], 'float32') })).toThrow(/float16/);
    expect(() => backend.linearInt8(x, w, s, { dtype: 'float16', residual: backend.zeros([2, 4], 'float16') })).toThrow(/residual must have shape \[2, 3\]/);
    expect(() => backend.linearInt8(x, backend.zeros([3, 4], 'float16'), s, { dtype: 'float16' })).toThrow(/int8/);
    expect(() => backend.linearInt8(x, w, s, { dtype: 'int8' as never })).toThrow(/dtype must be float16 or float32/);
    const h = new Uint16Array(8);
    const q = new Int8Array(12);
    expect(() => N.linearInt8(h, 0, 2, 4, q, 0, 3, new Uint16Array(3), 0, null, 0, null, 0, new Uint16Array(5), 0)).toThrow(/out is too short/);
    expect(() => N.linearInt8(h, 0, 2, 4, q, 4, 3, new Uint16Array(3), 0, null, 0, null, 0, new Uint16Array(6), 0)).toThrow(/weight is too short/);
    expect(() => N.linearInt8(h, 0, 2, 4, q, 0, 3, new Uint16Array(3), 0, new Float32Array(3), 0, null, 0, new Uint16Array(6), 0)).toThrow(TypeError);
    expect(() => N.linearInt8(h, 0, 2, 4, q, 0, 3, new Uint16Array(3), 0, null, 0, new Uint16Array(5), 0, new Uint16Array(6), 0)).toThrow(/residual is too short/);
  });
});
