// Many small random problems through the less-trodden paths: gemm over strided batches and rows
// (both kernel families, both storage types, every transpose) and strided copies of rank 1 to 4.
import type { Tensor } from '@bminf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend, reference } from '@bminf/kernels';
import { ISAS, SEED_BASE, backend, randomInt8, randomValues, rng, tensorOf, valuesOf } from './helpers.js';

afterEach(() => CpuBackend.setIsa(null));

/** A [d0, d1, ...] view with padded rows: made from a larger tensor by narrowing its last dimension. */
function paddedView(r: () => number, shape: number[], dtype: 'float16' | 'float32'): { t: Tensor; packed: number[] } {
  const pad = Math.floor(r() * 3);
  const outer = [...shape.slice(0, -1), shape[shape.length - 1] + pad];
  const values = randomValues(r, outer.reduce((a, b) => a * b, 1), dtype);
  const t = tensorOf(values, outer, dtype).narrow(-1, pad > 0 ? 1 : 0, shape[shape.length - 1]);
  return { t, packed: reference.gather(values, t.offset, t.shape, t.strides) };
}

describe('fuzz', () => {
  it('gemm: 300 random problems against the reference', () => {
    const r = rng(41);
    const pick = (n: number) => Math.floor(r() * n);
    for (let iter = 0; iter < 300; iter++) {
      CpuBackend.setPlainKernels(iter % 3 === 2);
      const dtype = r() < 0.5 ? 'float32' : 'float16';
      const batched = r() < 0.5;
      const batch = batched ? 1 + pick(3) : 1;
      const [m, n, k] = [r() < 0.4 ? 1 + pick(4) : 1 + pick(40), 1 + pick(40), pick(60)];
      const transA = r() < 0.3;
      const transB = r() < 0.5;
      const aShape = transA ? [k, m] : [m, k];
      const bShape = transB ? [n, k] : [k, n];
      const a = paddedView(r, batched ? [batch, ...aShape] : aShape, dtype);
      const b = paddedView(r, batched ? [batch, ...bShape] : bShape, dtype);
      const alpha = r() < 0.5 ? 1 : r() * 2 - 1;
      const out = backend.gemm(a.t, b.t, { transA, transB, alpha });
      expect(out.shape).toEqual(batched ? [batch, m, n] : [m, n]);
      const want = reference.gemm(a.packed, b.packed, { batch, m, n, k, transA, transB, alpha });
      const mag = reference.gemm(a.packed.map(Math.abs), b.packed.map(Math.abs), { batch, m, n, k, transA, transB, alpha: Math.abs(alpha) });
      const got = valuesOf(out);
      const rel = dtype === 'float16' ? 1.5e-3 : 2e-6;
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i] - want[i]) <= rel * mag[i] + 1e-30)) {
          expect.fail(`iteration ${iter} (${dtype}, batch ${batch}, m ${m} n ${n} k ${k}, transA ${transA}, transB ${transB}, seed ${SEED_BASE}): element ${i} got ${got[i]}, want ${want[i]}`);
        }
      }
    }
  });

  it('igemm and quantizeRows: 300 random problems, exact', () => {
    const r = rng(43);
    const pick = (n: number) => Math.floor(r() * n);
    for (let iter = 0; iter < 300; iter++) {
      CpuBackend.setIsa(ISAS[iter % ISAS.length]);
      const [m, n, k] = [1 + pick(r() < 0.5 ? 5 : 40), 1 + pick(40), pick(100)];
      const a = randomInt8(r, m * k);
      const b = randomInt8(r, n * k);
      const c = backend.download(backend.igemm(backend.upload(a, [m, k]), backend.upload(b, [n, k])));
      expect(c, `iteration ${iter}: m ${m} n ${n} k ${k}, seed ${SEED_BASE}`).toEqual(reference.igemm(a, b, m, n, k));
      const x = randomValues(r, m * (k + 1), r() < 0.5 ? 'float32' : 'float16', 10 ** (r() * 4 - 2));
      const q = backend.quantizeRows(tensorOf(x, [m, k + 1], 'float32'));
      const want = reference.quantizeRows(x, m, k + 1);
      expect(backend.download(q.values), `iteration ${iter} quantize`).toEqual(want.values);
      expect(backend.download(q.scales), `iteration ${iter} scales`).toEqual(want.scales);
    }
  });

  it('copy: 300 random views of rank 1 to 4, both storage types, with casts', () => {
    const r = rng(42);
    const pick = (n: number) => Math.floor(r() * n);
    for (let iter = 0; iter < 300; iter++) {
      const rank = 1 + pick(4);
      const full = Array.from({ length: rank }, () => 1 + pick(6));
      const dtype = r() < 0.5 ? 'float32' : 'float16';
      const values = randomValues(r, full.reduce((x, y) => x * y, 1), dtype);
      let t = tensorOf(values, full, dtype);
      // Narrow a random dimension and permute randomly.
      const d = pick(rank);
      const len = 1 + pick(full[d]);
      t = t.narrow(d, pick(full[d] - len + 1), len);
      const perm = Array.from({ length: rank }, (_, i) => i).sort(() => r() - 0.5);
      t = t.permute(perm);
      const want = reference.gather(values, t.offset, t.shape, t.strides);
      expect(valuesOf(backend.contiguous(t)), `iteration ${iter}`).toEqual(want);
      const other = dtype === 'float32' ? 'float16' : 'float32';
      const round = backend.cast(backend.cast(t, other), dtype);
      if (dtype === 'float16') expect(valuesOf(round), `iteration ${iter} cast`).toEqual(want);
    }
  });
});
