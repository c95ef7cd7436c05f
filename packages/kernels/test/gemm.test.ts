// Float GEMM against the float64 reference: both storage types, transposes, batches, strided views
// (a head of a KV cache), alpha; and the AVX2 and plain kernels against each other.
import type { Tensor } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, reference } from '@bminf/kernels';
import { SEED_BASE, backend, expectClose, randomValues, rng, tensorOf, valuesOf } from './helpers.js';

afterEach(() => CpuBackend.setPlainKernels(false));

/** The bound on rounding error: rel · (|A|·|B|) per element, as accumulated sums can cancel. */
function magnitude(a: number[], b: number[], o: Parameters<typeof reference.gemm>[2]): Float64Array {
  return reference.gemm(a.map(Math.abs), b.map(Math.abs), { ...o, alpha: Math.abs(o.alpha ?? 1) });
}

function check(got: Tensor, a: number[], b: number[], o: Parameters<typeof reference.gemm>[2], dtype: 'float16' | 'float32'): void {
  const want = reference.gemm(a, b, o);
  const mag = magnitude(a, b, o);
  const rel = dtype === 'float16' ? 1.5e-3 : 2e-6;
  const y = valuesOf(got);
  expect(y.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(y[i] - want[i]);
    if (!(err <= rel * mag[i] + 1e-30)) expect.fail(`element ${i}: got ${y[i]}, want ${want[i]} (error ${err}, bound ${rel * mag[i]}; BMINF_TEST_SEED=${SEED_BASE})`);
  }
}

describe('gemm', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`matches the reference for every transpose at awkward sizes (${dtype})`, () => {
      const r = rng(11);
      const shapes = [[1, 1, 1], [3, 17, 5], [17, 3, 255], [1, 1000, 17], [255, 17, 3], [7, 255, 1000], [1000, 3, 17]];
      for (const [m, n, k] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = randomValues(r, m * k, dtype);
            const b = randomValues(r, k * n, dtype);
            const at = tensorOf(a, transA ? [k, m] : [m, k], dtype);
            const bt = tensorOf(b, transB ? [n, k] : [k, n], dtype);
            const alpha = transA ? 0.125 : 1;
            const out = backend.gemm(at, bt, { transA, transB, alpha });
            expect(out.shape).toEqual([m, n]);
            expect(out.dtype).toBe(dtype);
            check(out, a, b, { batch: 1, m, n, k, transA, transB, alpha }, dtype);
          }
        }
      }
    });
  }

  it('handles a batch of strided views (heads of a fused qkv projection and of a cache)', () => {
    const r = rng(12);
    for (const dtype of ['float32', 'float16'] as const) {
      const [h, n, dh, cap, len] = [3, 5, 17, 40, 33];
      // q, k, v packed as [n, 3, h, dh] (a qkv projection), viewed per head as [h, n, dh].
      const qkvValues = randomValues(r, n * 3 * h * dh, dtype);
      const qkv = tensorOf(qkvValues, [n, 3, h, dh], dtype).permute([1, 2, 0, 3]);
      const q = qkv.select(0, 0);
      // A cache [h, cap, dh] of which the first len positions are used.
      const cacheValues = randomValues(r, h * cap * dh, dtype);
      const keys = tensorOf(cacheValues, [h, cap, dh], dtype).narrow(1, 0, len);
      const scores = backend.gemm(q, keys, { transB: true, alpha: 0.25 });
      expect(scores.shape).toEqual([h, n, len]);
      const qPacked = reference.gather(qkvValues, 0, q.shape, q.strides);
      const kPacked = reference.gather(cacheValues, 0, keys.shape, keys.strides);
      check(scores, qPacked, kPacked, { batch: h, m: n, n: len, k: dh, transB: true, alpha: 0.25 }, dtype);
      // probs [h, n, len] · values [h, len, dh]
      const probs = randomValues(r, h * n * len, dtype);
      const ctx = backend.gemm(tensorOf(probs, [h, n, len], dtype), keys);
      check(ctx, probs, kPacked, { batch: h, m: n, n: dh, k: len }, dtype);
    }
  });

  it('handles decode shapes (1 to 5 rows) over strided caches, on both kernel paths', () => {
    const r = rng(16);
    for (const plain of [false, true]) {
      CpuBackend.setPlainKernels(plain);
      for (const dtype of ['float32', 'float16'] as const) {
        for (const n of [1, 2, 3, 4, 5]) {
          const [h, dh, cap, len] = [4, 80, 300, 257];
          const qv = randomValues(r, h * n * dh, dtype);
          const q = tensorOf(qv, [n, h, dh], dtype).permute([1, 0, 2]); // [h, n, dh]
          const cv = randomValues(r, h * cap * dh, dtype);
          const keys = tensorOf(cv, [h, cap, dh], dtype).narrow(1, 0, len);
          const kPacked = reference.gather(cv, 0, keys.shape, keys.strides);
          const qPacked = reference.gather(qv, 0, q.shape, q.strides);
          check(backend.gemm(q, keys, { transB: true, alpha: 0.5 }), qPacked, kPacked, { batch: h, m: n, n: len, k: dh, transB: true, alpha: 0.5 }, dtype);
          const probs = randomValues(r, h * n * len, dtype);
          check(backend.gemm(tensorOf(probs, [h, n, len], dtype), keys), probs, kPacked, { batch: h, m: n, n: dh, k: len }, dtype);
          // A linear layer: x [n, 1000] · W [100, 1000]ᵀ.
          const x = randomValues(r, n * 1000, dtype);
          const w = randomValues(r, 100 * 1000, dtype);
          check(backend.gemm(tensorOf(x, [n, 1000], dtype), tensorOf(w, [100, 1000], dtype), { transB: true }), x, w, { batch: 1, m: n, n: 100, k: 1000, transB: true }, dtype);
        }
      }
    }
  });

  it('takes the threaded, blocked path on larger shapes', () => {
    const r = rng(13);
    const [m, n, k] = [150, 300, 600];
    const a = randomValues(r, m * k);
    const b = randomValues(r, n * k);
    check(backend.gemm(tensorOf(a, [m, k], 'float32'), tensorOf(b, [n, k], 'float32'), { transB: true }), a, b, { batch: 1, m, n, k, transB: true }, 'float32');
  });

  it('packs inputs whose last dimension is strided', () => {
    const r = rng(14);
    const a = randomValues(r, 6 * 4);
    const at = tensorOf(a, [4, 6], 'float32').transpose(); // [6, 4] with strides [1, 6]
    const b = randomValues(r, 4 * 3);
    const out = backend.gemm(at, tensorOf(b, [4, 3], 'float32'));
    check(out, reference.gather(a, 0, at.shape, at.strides), b, { batch: 1, m: 6, n: 3, k: 4 }, 'float32');
  });

  it('gives zeros for k = 0 and empty outputs for m = 0', () => {
    const out = backend.gemm(backend.zeros([3, 0], 'float32'), backend.zeros([0, 2], 'float32'));
    expect(valuesOf(out)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(backend.gemm(backend.zeros([0, 4], 'float16'), backend.zeros([4, 2], 'float16')).shape).toEqual([0, 2]);
  });

  it.runIf(CpuBackend.kernelInfo().isas.includes('avx512'))('gives the same bits on the AVX-512 path (6 x 32 micro-kernel) as on AVX2, at awkward sizes', () => {
    const r = rng(16);
    // n around multiples of 16 and 32 (one sliver left over, a partial second one), k across the
    // 256-deep blocks (partial sums added to C), m across the 6-row slivers; batches of strided heads.
    const shapes = [[1, 17, 3], [6, 32, 8], [7, 33, 300], [13, 47, 257], [144, 48, 64], [150, 200, 513], [5, 16, 40]];
    try {
      for (const dtype of ['float32', 'float16'] as const) {
        for (const [m, n, k] of shapes) {
          const a = tensorOf(randomValues(r, m * k, dtype), [m, k], dtype);
          const b = tensorOf(randomValues(r, n * k, dtype), [n, k], dtype);
          const bits = (isa: 'avx2' | 'avx512') => {
            CpuBackend.setIsa(isa);
            return [...valuesOf(backend.gemm(a, b, { transB: true, alpha: 0.25 })), ...valuesOf(backend.gemm(a, b.transpose(), { transB: false }))];
          };
          expect(bits('avx512'), `${dtype} ${m}x${n}x${k}`).toEqual(bits('avx2'));
        }
      }
      const heads = tensorOf(randomValues(r, 40 * 3 * 64), [40, 3, 4, 16], 'float32').permute([1, 2, 0, 3]); // [3, 4, 40, 16]
      const attention = (isa: 'avx2' | 'avx512') => {
        CpuBackend.setIsa(isa);
        return valuesOf(backend.gemm(heads.select(0, 0), heads.select(0, 1), { transB: true, alpha: 0.125 }));
      };
      expect(attention('avx512')).toEqual(attention('avx2'));
    } finally {
      CpuBackend.setIsa(null);
    }
  });

  it('agrees between the AVX2 and the plain kernels', () => {
    const r = rng(15);
    for (const dtype of ['float32', 'float16'] as const) {
      const [m, n, k] = [37, 70, 300];
      const a = tensorOf(randomValues(r, m * k, dtype), [m, k], dtype);
      const b = tensorOf(randomValues(r, n * k, dtype), [n, k], dtype);
      const fast = valuesOf(backend.gemm(a, b, { transB: true }));
      CpuBackend.setPlainKernels(true);
      const plain = valuesOf(backend.gemm(a, b, { transB: true }));
      CpuBackend.setPlainKernels(false);
      expectClose(plain, fast, dtype === 'float16' ? { rel: 2e-3, abs: 2e-2 } : { rel: 1e-5, abs: 1e-4 }, dtype);
    }
  });
});
