// The float ops against the float64 references, on both storage types and awkward sizes.
import { toFloat16Array } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, reference } from '@bminf/kernels';
import { backend, expectClose, randomValues, rng, tensorOf, tolerance, valuesOf } from './helpers.js';

const DTYPES = ['float32', 'float16'] as const;

afterEach(() => CpuBackend.setPlainKernels(false));

describe('layerNorm', () => {
  for (const dtype of DTYPES) {
    it(`normalises rows with mean and bias (LayerNorm) and without (RMS) (${dtype})`, () => {
      const r = rng(21);
      for (const [rows, cols] of [[1, 1], [3, 17], [17, 255], [2, 1000]]) {
        const x = randomValues(r, rows * cols, dtype, 4).map((v) => v + 1.5);
        const w = randomValues(r, cols, dtype);
        const b = randomValues(r, cols, dtype);
        for (const subtractMean of [true, false]) {
          const eps = subtractMean ? 1e-5 : 1e-6;
          const out = backend.layerNorm(tensorOf(x, [rows, cols], dtype), tensorOf(w, [cols], dtype), subtractMean ? tensorOf(b, [cols], dtype) : null, { eps, subtractMean });
          expect(out.dtype).toBe(dtype);
          const want = reference.layerNorm(x, rows, cols, w, subtractMean ? b : null, eps, subtractMean);
          expectClose(valuesOf(out), want, dtype === 'float32' ? { rel: 1e-5, abs: 1e-5 } : { rel: 2e-3, abs: 4e-3 }, `${rows}x${cols}`);
        }
      }
    });
  }

  it('takes any leading shape and strided inputs', () => {
    const r = rng(22);
    const x = randomValues(r, 2 * 3 * 17);
    const xt = tensorOf(x, [3, 2, 17], 'float32').permute([1, 0, 2]); // [2, 3, 17], not contiguous
    const w = randomValues(r, 17);
    const out = backend.layerNorm(xt, tensorOf(w, [17], 'float32'), null, { eps: 1e-6, subtractMean: false });
    expect(out.shape).toEqual([2, 3, 17]);
    expectClose(valuesOf(out), reference.layerNorm(reference.gather(x, 0, xt.shape, xt.strides), 6, 17, w, null, 1e-6, false), tolerance('float32'));
  });
});

describe('gelu', () => {
  for (const dtype of DTYPES) {
    it(`is the tanh approximation (${dtype})`, () => {
      const r = rng(23);
      for (const n of [1, 3, 17, 255, 1000, 9000]) {
        const x = randomValues(r, n, dtype, 6);
        const out = backend.gelu(tensorOf(x, [n], dtype));
        expectClose(valuesOf(out), reference.gelu(x), dtype === 'float32' ? { rel: 1e-5, abs: 1e-6 } : tolerance('float16'), `n=${n}`);
      }
    });
  }
});

describe('the plain kernels (no AVX2)', () => {
  it('compute gelu and softmax to the same tolerance', () => {
    CpuBackend.setPlainKernels(true);
    const r = rng(28);
    const x = randomValues(r, 3 * 1000, 'float32', 6);
    expectClose(valuesOf(backend.gelu(tensorOf(x, [3000], 'float32'))), reference.gelu(x), { rel: 1e-5, abs: 1e-6 });
    expectClose(valuesOf(backend.softmax(tensorOf(x, [3, 1000], 'float32'), { causalOffset: 500 })), reference.softmax(x, 1, 3, 1000, { causalOffset: 500 }), { rel: 1e-5, abs: 1e-7 });
  });
});

describe('softmax', () => {
  it('gives exactly 0 where the bias is -Infinity', () => {
    const bias = [0, -Infinity, 0, -Infinity, 0, 0, 0, 0, 0, -Infinity];
    const y = valuesOf(backend.softmax(tensorOf(new Array(10).fill(1), [1, 10], 'float32'), { bias: tensorOf(bias, [1, 10], 'float32') }));
    expect(y.filter((v, i) => bias[i] === -Infinity)).toEqual([0, 0, 0]);
    expectClose(y.filter((v, i) => bias[i] === 0), new Array(7).fill(1 / 7), { rel: 1e-6, abs: 0 });
  });

  for (const dtype of DTYPES) {
    it(`matches the reference with scale, causal offsets and biases (${dtype})`, () => {
      const r = rng(24);
      const tol = dtype === 'float32' ? { rel: 1e-5, abs: 1e-7 } : { rel: 2e-3, abs: 1e-4 };
      for (const [batch, rows, cols] of [[1, 1, 1], [3, 1, 17], [2, 17, 17], [4, 3, 255], [1, 2, 1000]]) {
        const x = randomValues(r, batch * rows * cols, dtype, 5);
        const xt = tensorOf(x, batch === 1 && rows === 1 ? [rows, cols] : [batch, rows, cols], dtype);
        const bias = randomValues(r, batch * rows * cols, dtype, 2);
        const rowBias = randomValues(r, rows * cols, dtype, 2);
        const cases = [
          { options: {}, ref: {} },
          { options: { scale: 0.3 }, ref: { scale: 0.3 } },
          { options: { causalOffset: cols - rows }, ref: { causalOffset: cols - rows } },
          { options: { causalOffset: 0, scale: 2 }, ref: { causalOffset: 0, scale: 2 } },
          { options: { bias: tensorOf(bias, [...xt.shape], dtype) }, ref: { bias } },
          { options: { bias: tensorOf(rowBias, [rows, cols], dtype), causalOffset: 1 }, ref: { bias: rowBias, biasBroadcast: true, causalOffset: 1 } },
        ];
        for (const c of cases) {
          const out = backend.softmax(xt, c.options);
          expect(out.shape).toEqual(xt.shape);
          expectClose(valuesOf(out), reference.softmax(x, batch, rows, cols, c.ref), tol, `${batch}x${rows}x${cols} ${JSON.stringify(c.ref).slice(0, 40)}`);
        }
      }
    });
  }

  it('broadcasts a [cols] bias over the rows of a rank-2 input', () => {
    const r = rng(30);
    for (const dtype of DTYPES) {
      const x = randomValues(r, 5 * 17, dtype, 3);
      const bias = randomValues(r, 17, dtype, 2);
      const rowBias = Array.from({ length: 5 }, () => bias).flat();
      const out = backend.softmax(tensorOf(x, [5, 17], dtype), { bias: tensorOf(bias, [17], dtype), causalOffset: 10 });
      expectClose(valuesOf(out), reference.softmax(x, 1, 5, 17, { bias: rowBias, causalOffset: 10 }), dtype === 'float32' ? { rel: 1e-5, abs: 1e-7 } : { rel: 2e-3, abs: 1e-4 });
    }
  });

  it('gives all-zero rows where everything is masked, not NaN', () => {
    const out = backend.softmax(tensorOf([1, 2, 3, 4, 5, 6], [2, 3], 'float32'), { causalOffset: -1 });
    const y = valuesOf(out);
    expect(y.slice(0, 3)).toEqual([0, 0, 0]);
    expect(y[3]).toBe(1);
  });
});

describe('embedding', () => {
  it('gathers rows of a float16, float32 or int8 table', () => {
    const r = rng(25);
    const [vocab, d] = [1000, 17];
    const ids = [0, 999, 5, 5, 123];
    for (const dtype of DTYPES) {
      const table = randomValues(r, vocab * d, dtype);
      const out = backend.embedding(backend.upload(Int32Array.from(ids), [5]), tensorOf(table, [vocab, d], dtype));
      expect(out.shape).toEqual([5, d]);
      expect(valuesOf(out)).toEqual(Array.from(reference.embedding(ids, table, d)));
    }
    const int8 = Int8Array.from({ length: 3 * 4 }, (_, i) => i - 6);
    const out = backend.embedding(backend.upload(Int32Array.from([2, 0]), [1, 2]), backend.upload(int8, [3, 4]));
    expect(out.shape).toEqual([1, 2, 4]);
    expect(Array.from(backend.download(out))).toEqual([2, 3, 4, 5, -6, -5, -4, -3]);
  });
});

describe('add and mul', () => {
  for (const dtype of DTYPES) {
    it(`broadcast a suffix shape (${dtype})`, () => {
      const r = rng(26);
      for (const [shape, bShape] of [[[1], [1]], [[3, 17], [17]], [[2, 3, 255], [3, 255]], [[1000], [1000]], [[4, 1000], [1000]]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const bn = bShape.reduce((a, b) => a * b, 1);
        const a = randomValues(r, n, dtype);
        const b = randomValues(r, bn, dtype);
        for (const op of ['add', 'mul'] as const) {
          const out = backend[op](tensorOf(a, shape, dtype), tensorOf(b, bShape, dtype));
          expect(out.shape).toEqual(shape);
          const want = reference.binary(op, a, b);
          // One float32 operation rounded once: float16 results are exactly the rounded reference.
          const rounded = dtype === 'float16' ? Array.from(toFloat16Array(Array.from(want, (v) => Math.fround(v)))).map((h) => valuesOf(backend.upload(Uint16Array.of(h), [1]))[0]) : Array.from(want, (v) => Math.fround(v));
          expect(valuesOf(out)).toEqual(rounded);
        }
      }
    });
  }

  it('accepts strided operands', () => {
    const a = tensorOf([1, 2, 3, 4, 5, 6], [2, 3], 'float32').transpose(); // [[1,4],[2,5],[3,6]]
    const out = backend.add(a, tensorOf([10, 20], [2], 'float32'));
    expect(valuesOf(out)).toEqual([11, 24, 12, 25, 13, 26]);
  });
});

describe('memory ops', () => {
  it('upload/download round-trip every dtype; zeros are zero even from a reused buffer', () => {
    const data = [Int8Array.of(1, -2, 3), Int32Array.of(7, -8, 9), Uint16Array.of(0x3c00, 0xc000, 1), Float32Array.of(0.5, -1, 3)];
    for (const d of data) {
      const t = backend.upload(d, [3]);
      expect(backend.download(t)).toEqual(d);
      t.dispose();
    }
    const junk = backend.upload(Float32Array.of(1, 2, 3, 4), [4]);
    junk.dispose();
    expect(valuesOf(backend.zeros([4], 'float32'))).toEqual([0, 0, 0, 0]);
  });

  it('copies and casts strided views of rank up to 4', () => {
    const r = rng(27);
    const shape = [3, 4, 5, 6];
    const x = randomValues(r, 360, 'float16');
    const t = tensorOf(x, shape, 'float16').permute([2, 0, 3, 1]).narrow(2, 1, 4); // [5, 3, 4, 4]
    const packed = reference.gather(x, t.offset, t.shape, t.strides);
    expect(valuesOf(backend.contiguous(t))).toEqual(packed);
    const f32 = backend.cast(t, 'float32');
    expect(f32.dtype).toBe('float32');
    expect(valuesOf(f32)).toEqual(packed);
    const back = backend.cast(f32, 'float16');
    expect(backend.download(back)).toEqual(toFloat16Array(packed));
    const dst = backend.zeros([5, 3, 4, 4], 'float16');
    backend.copy(t, dst);
    expect(valuesOf(dst)).toEqual(packed);
    // Into a strided destination: the transposed view of a packed buffer.
    const dst2 = backend.zeros([4, 4], 'float32');
    backend.copy(tensorOf([...Array(16).keys()], [4, 4], 'float32'), dst2.transpose());
    expect(valuesOf(dst2)).toEqual([0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]);
  });

  it('rounds float32 to float16 to nearest even in cast', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1); 1 + 3·2^-11 rounds up to 1 + 2^-9.
    const out = backend.cast(tensorOf([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 1e-8], [4], 'float32'), 'float16');
    expect(Array.from(backend.download(out))).toEqual([0x3c00, 0x3c02, 0x7c00, 0]);
  });

  it('returns a packed input from contiguous() without copying, as a new owning tensor', () => {
    const t = tensorOf([1, 2, 3], [3], 'float32');
    const c = backend.contiguous(t);
    expect(c).not.toBe(t);
    t.dispose();
    expect(valuesOf(c)).toEqual([1, 2, 3]);
  });
});

describe('copies of higher rank', () => {
  it('merge dimensions, so rank-5 and rank-6 views that collapse to rank <= 4 copy', () => {
    const x = [...Array(2 * 3 * 4 * 5 * 6).keys()];
    const t = tensorOf(x, [2, 3, 4, 5, 6], 'float32').permute([1, 0, 2, 3, 4]); // dims 2..4 stay packed
    expect(valuesOf(backend.contiguous(t))).toEqual(reference.gather(x, 0, t.shape, t.strides));
    const six = tensorOf(x, [2, 3, 4, 5, 6], 'float32').unsqueeze(2).permute([0, 1, 2, 3, 5, 4]);
    expect(valuesOf(backend.contiguous(six))).toEqual(reference.gather(x, 0, six.shape, six.strides));
  });

  it('explain views that cannot be merged to rank 4', () => {
    const t = tensorOf(new Array(32).fill(0), [2, 2, 2, 2, 2], 'float32').permute([4, 3, 2, 1, 0]);
    expect(() => backend.contiguous(t)).toThrow(/more than 4 dimensions that cannot be merged/);
  });
});

describe('ops large enough to be split across threads', () => {
  it('give the same results as the reference at every chunk boundary', () => {
    const r = rng(29);
    const [rows, cols] = [157, 1001]; // 157k elements: several pieces of at least 64k, odd boundaries
    for (const dtype of DTYPES) {
      const tol = dtype === 'float32' ? { rel: 1e-5, abs: 1e-6 } : { rel: 2e-3, abs: 4e-3 };
      const x = randomValues(r, rows * cols, dtype, 3);
      const xt = tensorOf(x, [rows, cols], dtype);
      const w = randomValues(r, cols, dtype);
      expectClose(valuesOf(backend.gelu(xt)), reference.gelu(x), tol, 'gelu');
      expectClose(valuesOf(backend.add(xt, tensorOf(w, [cols], dtype))), reference.binary('add', x, w), tol, 'add');
      expectClose(
        valuesOf(backend.layerNorm(xt, tensorOf(w, [cols], dtype), null, { eps: 1e-5, subtractMean: true })),
        reference.layerNorm(x, rows, cols, w, null, 1e-5, true),
        dtype === 'float32' ? tol : { rel: 2e-3, abs: 2e-2 },
        'layerNorm',
      );
      expectClose(valuesOf(backend.softmax(xt, { causalOffset: 900 })), reference.softmax(x, 1, rows, cols, { causalOffset: 900 }), { rel: tol.rel, abs: 1e-6 }, 'softmax');
      const t = xt.transpose();
      expect(valuesOf(backend.contiguous(t))).toEqual(reference.gather(x, 0, t.shape, t.strides));
      const q = backend.quantizeRows(xt);
      const want = reference.quantizeRows(x, rows, cols);
      expect(backend.download(q.values)).toEqual(want.values);
      expect(backend.download(q.scales)).toEqual(want.scales);
    }
  });
});
