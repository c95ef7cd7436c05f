// The ops of planned steps (scatterRows, attendCache, write) against the references, on fresh random
// data at awkward sizes, and their argument checks (typed errors in TS, RangeError/TypeError natively).
import { DTypeMismatchError, InvalidArgumentError, ShapeMismatchError, type Tensor, fromFloat16Array } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, nativeCpu as N, reference } from '@bminf/kernels';
import { ISAS, backend, expectClose, randomInt8, randomValues, rng, tensorOf, valuesOf } from './helpers.js';

const DTYPES = ['float32', 'float16'] as const;

afterEach(() => CpuBackend.setPlainKernels(false));

/** A [rows, cols] view of `values` placed at column `at` of a wider [rows, cols + extra] tensor (strided rows). */
function stridedRows(values: number[], rows: number, cols: number, at: number, extra: number, dtype: 'float16' | 'float32'): Tensor {
  const wide = new Array<number>(rows * (cols + extra)).fill(7);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) wide[r * (cols + extra) + at + c] = values[r * cols + c];
  return tensorOf(wide, [rows, cols + extra], dtype).narrow(1, at, cols);
}

describe('attendCache', () => {
  for (const dtype of DTYPES) {
    it(`matches the reference at awkward sizes, lengths and strides (${dtype})`, () => {
      const r = rng(71);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
      for (let c = 0; c < 60; c++) {
        const batch = 1 + (c % 5);
        const heads = 1 + (c % 3);
        const headDim = pick([1, 2, 7, 8, 16, 33, 64]);
        const slotRows = pick([1, 2, 5, 16, 37]);
        const width = heads * headDim;
        // Lengths 0, 1, full and out of range (clamped), and anything between.
        const lengths = Array.from({ length: batch }, (_, b) =>
          [0, 1, slotRows, -3, slotRows + 5, Math.floor(r() * (slotRows + 1))][(b + c) % 6],
        );
        const q = randomValues(r, batch * width, dtype);
        const keys = randomValues(r, batch * slotRows * width, dtype, 2);
        const values = randomValues(r, batch * slotRows * width, dtype);
        const withBias = c % 2 === 0;
        const bias = withBias ? randomValues(r, heads * slotRows, dtype, 3) : undefined;
        const scale = 1 / Math.sqrt(headDim);
        const qt = c % 3 === 0 ? stridedRows(q, batch, width, 2, 5, dtype) : tensorOf(q, [batch, width], dtype);
        const out = backend.attendCache(
          qt, tensorOf(keys, [batch * slotRows, width], dtype), tensorOf(values, [batch * slotRows, width], dtype),
          backend.upload(Int32Array.from(lengths), [batch]),
          { heads, scale, slotRows, ...(bias ? { distanceBias: tensorOf(bias, [heads, slotRows], dtype) } : {}) },
        );
        expect(out.shape).toEqual([batch, width]);
        expect(out.dtype).toBe(dtype);
        const want = reference.attendCache(q, keys, values, lengths, { batch, heads, headDim, slotRows, scale, distanceBias: bias });
        const what = `case ${c}: B ${batch} H ${heads} D ${headDim} slotRows ${slotRows} lengths ${lengths} bias ${withBias}`;
        expectClose(valuesOf(out), want, dtype === 'float32' ? { rel: 1e-5, abs: 2e-6 } : { rel: 2e-3, abs: 2e-3 }, what);
      }
    });
  }

  it('splits long caches over threads and runs the plain kernels to the same results', () => {
    const r = rng(72);
    const [batch, heads, headDim, slotRows] = [3, 4, 64, 1100];
    const width = heads * headDim;
    const q = randomValues(r, batch * width);
    const keys = randomValues(r, batch * slotRows * width);
    const values = randomValues(r, batch * slotRows * width);
    const bias = randomValues(r, heads * slotRows);
    const lengths = [slotRows, 700, slotRows - 1];
    const want = reference.attendCache(q, keys, values, lengths, { batch, heads, headDim, slotRows, scale: 0.125, distanceBias: bias });
    for (const plain of [false, true]) {
      CpuBackend.setPlainKernels(plain);
      const out = backend.attendCache(
        tensorOf(q, [batch, width], 'float32'), tensorOf(keys, [batch * slotRows, width], 'float32'),
        tensorOf(values, [batch * slotRows, width], 'float32'), backend.upload(Int32Array.from(lengths), [batch]),
        { heads, scale: 0.125, slotRows, distanceBias: tensorOf(bias, [heads, slotRows], 'float32') },
      );
      expectClose(valuesOf(out), want, { rel: 1e-5, abs: 2e-6 }, `plain ${plain}`);
    }
  });

  for (const dtype of DTYPES) {
    it(`append writes each new row at position L - 1 of its cache, then attends over it (${dtype})`, () => {
      const r = rng(73);
      const [batch, heads, headDim, slotRows] = [5, 3, 16, 9];
      const width = heads * headDim;
      // lengths 0 (no write), 1, partial, full and beyond (clamped: the last row)
      const lengths = [0, 1, 4, slotRows, slotRows + 3];
      const q = randomValues(r, batch * width, dtype);
      const keys = randomValues(r, batch * slotRows * width, dtype, 2);
      const values = randomValues(r, batch * slotRows * width, dtype);
      // the new rows as a decode step has them: k | v side by side in one [B, 3 width] row (q | k | v)
      const qkv = randomValues(r, batch * 3 * width, dtype);
      const row = (b: number, part: number) => qkv.slice(b * 3 * width + part * width, b * 3 * width + (part + 1) * width);
      const wantKeys = keys.slice();
      const wantValues = values.slice();
      for (let b = 0; b < batch; b++) {
        const L = Math.min(Math.max(lengths[b], 0), slotRows);
        if (L < 1) continue;
        wantKeys.splice((b * slotRows + L - 1) * width, width, ...row(b, 1));
        wantValues.splice((b * slotRows + L - 1) * width, width, ...row(b, 2));
      }
      const kt = tensorOf(keys, [batch * slotRows, width], dtype);
      const vt = tensorOf(values, [batch * slotRows, width], dtype);
      const qkvt = tensorOf(qkv, [batch, 3 * width], dtype);
      const out = backend.attendCache(tensorOf(q, [batch, width], dtype), kt, vt, backend.upload(Int32Array.from(lengths), [batch]), {
        heads, scale: 0.25, slotRows, append: { keys: qkvt.narrow(1, width, width), values: qkvt.narrow(1, 2 * width, width) },
      });
      expect(valuesOf(kt)).toEqual(valuesOf(tensorOf(wantKeys, [batch * slotRows, width], dtype)));
      expect(valuesOf(vt)).toEqual(valuesOf(tensorOf(wantValues, [batch * slotRows, width], dtype)));
      const want = reference.attendCache(q, valuesOf(kt), valuesOf(vt), lengths, { batch, heads, headDim, slotRows, scale: 0.25 });
      expectClose(valuesOf(out), want, dtype === 'float32' ? { rel: 1e-5, abs: 2e-6 } : { rel: 2e-3, abs: 2e-3 }, 'append');
    });
  }

  it('checks its arguments with typed errors', () => {
    const f = (shape: number[], dtype: 'float16' | 'float32' = 'float32') => backend.zeros(shape, dtype);
    const len = backend.zeros([2], 'int32');
    const kv = f([2, 16]);
    const ap = { keys: kv.narrow(1, 0, 8), values: kv.narrow(1, 8, 8) };
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { heads: 2, scale: 1, slotRows: 3, append: ap })).not.toThrow();
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { heads: 2, scale: 1, slotRows: 3, append: { ...ap, values: f([2, 8], 'float16') } })).toThrow(DTypeMismatchError);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { heads: 2, scale: 1, slotRows: 3, append: { ...ap, keys: f([3, 8]) } })).toThrow(/append.keys must have shape \[2, 8\]/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { heads: 2, scale: 1, slotRows: 3, append: { ...ap, keys: f([8, 2]).transpose() } })).toThrow(/append.keys must have contiguous rows/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { heads: 2, scale: 1, slotRows: 3, append: { ...ap, values: f([2, 8]) } })).toThrow(/one row stride/);
    const o = { heads: 2, scale: 1, slotRows: 3 };
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, o)).not.toThrow();
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { ...o, heads: 3 })).toThrow(/3 heads do not divide q's width 8/);
    expect(() => backend.attendCache(f([2, 8]), f([5, 8]), f([6, 8]), len, o)).toThrow(ShapeMismatchError);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8], 'float16'), len, o)).toThrow(DTypeMismatchError);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), f([2]), o)).toThrow(/expected int32/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), backend.zeros([3], 'int32'), o)).toThrow(/lengths must have shape \[2\]/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { ...o, slotRows: 0 })).toThrow(/slotRows must be at least 1/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { ...o, scale: Number.NaN })).toThrow(/scale must be a finite number/);
    expect(() => backend.attendCache(f([2, 8]), f([6, 8]), f([6, 8]), len, { ...o, distanceBias: f([2, 4]) })).toThrow(/distanceBias must have shape \[2, 3\]/);
    expect(() => backend.attendCache(f([2, 8]), f([8, 6]).transpose(), f([6, 8]), len, o)).toThrow(/keys must be contiguous|contiguous/);
    expect(() => backend.attendCache(f([16]), f([6, 8]), f([6, 8]), len, o)).toThrow(/rank/);
  });
});

describe('scatterRows', () => {
  for (const dtype of ['float32', 'float16', 'int32', 'int8'] as const) {
    it(`writes rows at their indices and skips indices out of range (${dtype})`, () => {
      const r = rng(73);
      for (const [n, w, rows] of [[1, 1, 1], [3, 5, 4], [5, 17, 37], [4, 64, 9]]) {
        const src = dtype === 'int8' ? Array.from(randomInt8(r, n * w)) : dtype === 'int32' ? Array.from({ length: n * w }, () => Math.floor(r() * 1e6) - 5e5) : randomValues(r, n * w, dtype);
        const dst = dtype === 'int8' ? Array.from(randomInt8(r, rows * w)) : dtype === 'int32' ? Array.from({ length: rows * w }, (_, i) => i) : randomValues(r, rows * w, dtype);
        const index = Array.from({ length: n }, (_, i) => [rows - 1 - i, -1, rows, rows + 10, Math.floor(r() * rows)][i % 5]);
        const make = (v: number[], shape: number[]) =>
          dtype === 'int8' ? backend.upload(Int8Array.from(v), shape) : dtype === 'int32' ? backend.upload(Int32Array.from(v), shape) : tensorOf(v, shape, dtype);
        // src as a column block of a wider tensor (strided rows) every other time.
        const srcT = n % 2 === 1 && dtype !== 'int8' && dtype !== 'int32' ? stridedRows(src, n, w, 1, 3, dtype) : make(src, [n, w]);
        const dstT = make(dst, [rows, w]);
        backend.scatterRows(srcT, dstT, backend.upload(Int32Array.from(index), [n]));
        const got = dtype === 'int8' || dtype === 'int32' ? Array.from(backend.download(dstT) as Int8Array) : valuesOf(dstT);
        expect(got, `${n}x${w} into ${rows}`).toEqual(reference.scatterRows(src, dst, index, w));
      }
    });
  }

  it('lets the later row win when indices repeat, also when threads split the columns', () => {
    const w = 100_000;
    const src = Float32Array.from({ length: 3 * w }, (_, i) => Math.floor(i / w) + 1);
    const dst = backend.zeros([2, w], 'float32');
    backend.scatterRows(backend.upload(src, [3, w]), dst, backend.upload(Int32Array.of(1, 1, 0), [3]));
    const got = backend.download(dst) as Float32Array;
    expect(got.subarray(0, w).every((v) => v === 3)).toBe(true);
    expect(got.subarray(w).every((v) => v === 2)).toBe(true);
  });

  it('checks its arguments with typed errors', () => {
    const f = (shape: number[]) => backend.zeros(shape, 'float32');
    const idx = backend.zeros([2], 'int32');
    expect(() => backend.scatterRows(f([2, 4]), f([3, 5]), idx)).toThrow(/rows of 4 elements do not fit dst \[3, 5\]/);
    expect(() => backend.scatterRows(f([2, 4]), backend.zeros([3, 4], 'float16'), idx)).toThrow(DTypeMismatchError);
    expect(() => backend.scatterRows(f([2, 4]), f([3, 4]), f([2]))).toThrow(/expected int32/);
    expect(() => backend.scatterRows(f([2, 4]), f([3, 4]), backend.zeros([3], 'int32'))).toThrow(/index must have shape \[2\]/);
    expect(() => backend.scatterRows(f([2, 4]), f([4, 3]).transpose(), idx)).toThrow(/contiguous/);
  });
});

describe('write', () => {
  it('copies host data into an existing tensor, checking dtype and size', () => {
    const t = backend.zeros([2, 3], 'float16');
    backend.write(t, Uint16Array.of(0x3c00, 0x4000, 0, 0, 0, 0xbc00));
    expect(Array.from(fromFloat16Array(backend.download(t) as Uint16Array))).toEqual([1, 2, 0, 0, 0, -1]);
    expect(() => backend.write(t, new Float32Array(6))).toThrow(/must be of the tensor's dtype \(float16\)/);
    expect(() => backend.write(t, new Uint16Array(5))).toThrow(ShapeMismatchError);
    expect(() => backend.write(t, [1, 2, 3] as unknown as Float32Array)).toThrow(InvalidArgumentError);
    expect(() => backend.write(backend.zeros([3, 2], 'float16').transpose(), new Uint16Array(6))).toThrow(/contiguous/);
  });
});

describe('native step ops given bad arguments throw instead of crashing', () => {
  const f = new Float32Array(24);
  const i32 = new Int32Array(4);
  it('checks every buffer length and type', () => {
    expect(() => N.scatterRows(f, 0, 4, 2, 4, f, 0, 6, i32, 0)).not.toThrow();
    expect(() => N.scatterRows(f, 0, 4, 2, 4, f, 0, 7, i32, 0)).toThrow(/dst is too short/);
    expect(() => N.scatterRows(f, 0, 20, 2, 5, f, 0, 2, i32, 0)).toThrow(/src is too short/);
    expect(() => N.scatterRows(f, 0, 4, 5, 4, f, 0, 2, i32, 0)).toThrow(/index is too short/);
    expect(() => N.scatterRows(f, 0, 4, 2, 4, new Uint16Array(24), 0, 2, i32, 0)).toThrow(/same element type/);
    expect(() => N.scatterRows(f, 0, 4, 2, 4, f, 0, 2, f as unknown as Int32Array, 0)).toThrow(TypeError);
    // q [2, 4] (2 heads of 2), keys/values [2 * 3, 4], lengths [2], bias [2, 3], out [2, 4], append [2, 4] (rows 4 apart)
    const ok = [f, 0, 4, 2, 2, 2, f, 0, f, 0, i32, 0, 3, 1, f, 0, f, 0, f, 0, f, 0, 4] as const;
    const call = (i: number, v: unknown) => () => (N.attendCache as (...a: unknown[]) => void)(...ok.map((x, j) => (j === i ? v : x)));
    expect(call(-1, 0)).not.toThrow();
    expect(call(12, 4)).toThrow(/keys is too short/);
    expect(call(9, 1)).toThrow(/values is too short/);
    expect(call(11, 3)).toThrow(/lengths is too short/);
    expect(call(15, 19)).toThrow(/bias is too short/);
    expect(call(17, 17)).toThrow(/out is too short/);
    expect(call(2, 30)).toThrow(/q is too short/);
    expect(call(13, Number.POSITIVE_INFINITY)).toThrow(/scale must be finite/);
    expect(call(14, null)).not.toThrow();
    expect(call(8, new Uint16Array(24))).toThrow(/same element type/);
    expect(call(19, 17)).toThrow(/appendKeys is too short/);
    expect(call(22, 21)).toThrow(/appendKeys is too short/);
    expect(call(20, null)).toThrow(/given together/);
    expect(call(20, new Uint16Array(24))).toThrow(/same element type/);
    expect(() => N.zero(f, 20, 5)).toThrow(/dst is too short/);
  });
});

describe('downloadInto', () => {
  it('copies a tensor, strided too, into part of an array, and checks its arguments', () => {
    const t = tensorOf([1, 2, 3, 4, 5, 6], [2, 3], 'float32');
    const dst = new Float32Array(10).fill(-1);
    backend.downloadInto(t, dst, 2);
    expect(Array.from(dst)).toEqual([-1, -1, 1, 2, 3, 4, 5, 6, -1, -1]);
    backend.downloadInto(t.transpose(), dst, 4); // [3, 2] strided: 1 4 2 5 3 6
    expect(Array.from(dst)).toEqual([-1, -1, 1, 2, 1, 4, 2, 5, 3, 6]);
    const h = tensorOf([0.5, -2], [2], 'float16');
    const bits = new Uint16Array(3);
    backend.downloadInto(h, bits, 1);
    expect(Array.from(bits.subarray(1))).toEqual(Array.from(backend.download(h)));
    expect(() => backend.downloadInto(t, dst, 5)).toThrow(/do not fit/);
    expect(() => backend.downloadInto(t, dst, -1)).toThrow(/do not fit/);
    expect(() => backend.downloadInto(t, dst, 1.5)).toThrow(/integer/);
    expect(() => backend.downloadInto(t, new Int32Array(6), 0)).toThrow(/dtype \(float32\)/);
    const step = backend.captureStep(() => {
      expect(() => backend.downloadInto(t, dst, 0)).toThrow(/cannot read back/);
    });
    step.dispose();
  });
});


describe('argmaxRows', () => {
  /** The plain reference: lowest index of the largest value, NaN never, -1 for none. */
  const plainArgmax = (row: ArrayLike<number>): number => {
    let best = -1;
    let bv = -Infinity;
    for (let i = 0; i < row.length; i++) if (row[i] > bv) [best, bv] = [i, row[i]];
    return best;
  };
  it('matches the reference at awkward sizes, with ties, NaN and rows of -Infinity', () => {
    const r = rng(83);
    for (const [rows, n] of [[1, 1], [3, 7], [5, 1000], [2, 26240], [4, 33], [1, 0]]) {
      const values = new Float32Array(randomValues(r, rows * n));
      for (let k = 0; k < rows * n; k++) {
        const u = r();
        if (u < 0.05) values[k] = NaN;
        else if (u < 0.1) values[k] = 2; // ties at the top: the lowest index must win
      }
      if (rows > 2) values.fill(-Infinity, 2 * n, 3 * n); // a row with no choice
      if (rows > 3) values.fill(NaN, 3 * n, 4 * n);
      const got = Array.from(backend.download(backend.argmaxRows(tensorOf(values, [rows, n], 'float32'))) as Int32Array);
      const want = Array.from({ length: rows }, (_, i) => plainArgmax(values.subarray(i * n, (i + 1) * n)));
      expect(got, `${rows}x${n}`).toEqual(want);
    }
  });
  it('never picks the excluded column (the best of the rest, lowest index on ties)', () => {
    const x = tensorOf([5, 9, 9, 1, 9, 3, -Infinity, NaN, 2], [3, 3], 'float32');
    const ids = (exclude: number) => Array.from(backend.download(backend.argmaxRows(x, { exclude })) as Int32Array);
    expect(ids(0)).toEqual([1, 1, 2]);
    expect(ids(1)).toEqual([2, 2, 2]);
    expect(ids(2)).toEqual([1, 1, -1]);
    expect(() => backend.argmaxRows(x, { exclude: 3 })).toThrow(/exclude must be a column index from 0 to 2/);
  });
  it('takes float32 [rows, n] only', () => {
    expect(() => backend.argmaxRows(tensorOf([1, 2], [2], 'float32'))).toThrow(ShapeMismatchError);
    expect(() => backend.argmaxRows(tensorOf([1, 2], [1, 2], 'float16'))).toThrow(DTypeMismatchError);
  });

  /** The reference with an excluded column (-1: none). */
  const plainArgmaxExcept = (row: Float32Array, exclude: number): number => {
    let best = -1;
    let bv = -Infinity;
    for (let i = 0; i < row.length; i++) if (i !== exclude && row[i] > bv) [best, bv] = [i, row[i]];
    return best;
  };
  /** Random rows with ties at the top (a row's max copied to a few places), some NaN and -Infinity. */
  const fillRows = (r: () => number, x: Float32Array, rows: number, n: number) => {
    for (let k = 0; k < x.length; k++) x[k] = (r() * 2 - 1) * 4;
    for (let row = 0; row < rows; row++) {
      const at = row * n;
      const top = 5 + Math.floor(r() * 3);
      const copies = 1 + Math.floor(r() * 4);
      for (let c = 0; c < copies; c++) x[at + Math.floor(r() * n)] = top;
      if (r() < 0.3) x[at + Math.floor(r() * n)] = NaN;
      if (r() < 0.3) x[at + Math.floor(r() * n)] = -Infinity;
      if (row === 2) x.fill(-Infinity, at, at + n); // no choice: -1
    }
  };
  it('is recorded in a captured step and replayed on new logits (awkward sizes, exclude at 0, n-1 and inside, ties)', async () => {
    const r = rng(89);
    const shapes: [number, number][] = [[1, 1], [1, 2], [3, 7], [2, 9], [5, 31], [4, 1000], [1, 8193], [3, 30000]];
    try {
      for (const isa of ISAS) {
        CpuBackend.setIsa(isa);
        for (const [rows, n] of shapes) {
          const strided = n % 2 === 1; // x a column block of a wider tensor: copied packed inside the step
          const wide = backend.zeros([rows, strided ? n + 3 : n], 'float32');
          const x = strided ? wide.narrow(1, 1, n) : wide;
          const excludes = [...new Set([-1, 0, n - 1, Math.floor(n / 2)])];
          const outs = excludes.map(() => backend.zeros([rows], 'int32'));
          const step = backend.captureStep(() => {
            excludes.forEach((e, i) => backend.copy(backend.argmaxRows(x, e < 0 ? {} : { exclude: e }), outs[i]));
          });
          // Recorded, not run: the outputs are still zero.
          for (const o of outs) expect(Array.from(backend.download(o) as Int32Array)).toEqual(new Array<number>(rows).fill(0));
          for (let run = 0; run < 3; run++) {
            const values = new Float32Array(rows * n);
            fillRows(r, values, rows, n);
            const w = new Float32Array(wide.numel);
            for (let row = 0; row < rows; row++) w.set(values.subarray(row * n, (row + 1) * n), row * wide.shape[1] + (strided ? 1 : 0));
            backend.write(wide, w);
            await step.run();
            excludes.forEach((e, i) => {
              const want = Array.from({ length: rows }, (_, row) => plainArgmaxExcept(values.subarray(row * n, (row + 1) * n), e));
              expect(Array.from(backend.download(outs[i]) as Int32Array), `${isa} ${rows}x${n} exclude ${e} run ${run}`).toEqual(want);
            });
          }
          step.dispose();
          for (const t of [wide, ...outs]) t.dispose();
        }
      }
    } finally {
      CpuBackend.setIsa(null);
    }
  });
  it('natively checks its arguments (RangeError/TypeError, never a read or write outside the arrays)', () => {
    const x = new Float32Array(12);
    const ids = new Int32Array(3);
    expect(() => N.argmaxRows(x, 0, 3, 4, -1, ids, 0)).not.toThrow();
    expect(() => N.argmaxRows(x, 1, 3, 4, -1, ids, 0)).toThrow(RangeError); // x too short
    expect(() => N.argmaxRows(x, 0, 4, 3, -1, ids, 0)).toThrow(RangeError); // ids too short
    expect(() => N.argmaxRows(x, 0, 3, 4, -1, ids, 1)).toThrow(RangeError);
    expect(() => N.argmaxRows(x, 0, 3, 4, 4, ids, 0)).toThrow(RangeError); // exclude past the row
    expect(() => N.argmaxRows(x, 0, 3, 4, -2, ids, 0)).toThrow(RangeError);
    expect(() => N.argmaxRows(x, -1, 3, 4, -1, ids, 0)).toThrow(RangeError);
    expect(() => N.argmaxRows(x, 0, 3, 4, 0.5, ids, 0)).toThrow(RangeError);
    expect(() => N.argmaxRows(new Uint16Array(12) as unknown as Float32Array, 0, 3, 4, -1, ids, 0)).toThrow(TypeError);
    expect(() => N.argmaxRows(x, 0, 3, 4, -1, new Float32Array(3) as unknown as Int32Array, 0)).toThrow(TypeError);
    expect(() => (N.argmaxRows as unknown as (...a: unknown[]) => void)(x, 0, 3, 4, -1, ids)).toThrow(TypeError);
  });
});
