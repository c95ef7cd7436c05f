// Backend.attention on the CPU (the composition gemm, softmax, gemm, contiguous) against a plain float64
// reference, on q/k/v views as the layers make them; and the CUDA route's choices, which need no GPU.
import { attentionByParts, toFloat16Array } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { type AttentionRouteInput, attentionRoute } from '@bminf/kernels';
import { backend, expectClose, randomValues, rng, tensorOf, valuesOf } from './helpers.js';

/** softmax(scale q kᵀ + bias, mask) v per head in float64, as [n, heads*d]; rows with no visible key are 0. */
function reference(q: number[], k: number[], v: number[], h: number, n: number, L: number, d: number, scale: number, causalOffset?: number, bias?: number[]): number[] {
  const out = new Array<number>(n * h * d).fill(0);
  for (let hh = 0; hh < h; hh++)
    for (let i = 0; i < n; i++) {
      const s: number[] = [];
      for (let j = 0; j < L; j++) {
        let x = 0;
        for (let e = 0; e < d; e++) x += q[(hh * n + i) * d + e] * k[(hh * L + j) * d + e];
        x = x * scale + (bias ? bias[(hh * n + i) * L + j] : 0);
        s.push(causalOffset !== undefined && j > i + causalOffset ? -Infinity : x);
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue;
      const p = s.map((x) => Math.exp(x - m));
      const sum = p.reduce((a, b) => a + b, 0);
      for (let e = 0; e < d; e++) {
        let acc = 0;
        for (let j = 0; j < L; j++) acc += p[j] * v[(hh * L + j) * d + e];
        out[i * h * d + hh * d + e] = acc / sum;
      }
    }
  return out;
}

describe('attention (CPU)', () => {
  const cases = [
    { h: 2, n: 5, L: 7, d: 8, scale: 0.35 },
    { h: 3, n: 4, L: 9, d: 16, scale: 1, causalOffset: 5, bias: true },
    { h: 1, n: 6, L: 6, d: 4, scale: 0.5, causalOffset: -2 }, // the first two rows see no key: zeros
    { h: 2, n: 1, L: 1, d: 8, scale: 1, bias: true },
  ];
  for (const dtype of ['float32', 'float16'] as const) {
    it(`matches a float64 reference for q, k, v cut from one fused [n, 3·h·d] projection (${dtype})`, () => {
      const r = rng(71);
      for (const c of cases) {
        const { h, n, L, d, scale } = c;
        // q's n rows and the keys' L rows as views of fused projections: [rows, 3, h, d] -> [3, h, rows, d].
        const qkvQ = randomValues(r, n * 3 * h * d, dtype);
        const qkvK = randomValues(r, L * 3 * h * d, dtype);
        const parts = (x: number[], rows: number) => tensorOf(x, [rows, 3 * h * d], dtype).reshape([rows, 3, h, d]).permute([1, 2, 0, 3]);
        const q = parts(qkvQ, n).select(0, 0);
        const kv = parts(qkvK, L);
        const keys = kv.select(0, 1);
        const values = kv.select(0, 2);
        const bias = c.bias ? randomValues(r, h * n * L, dtype, 2) : undefined;
        const options = { scale, ...(c.causalOffset !== undefined ? { causalOffset: c.causalOffset } : {}), ...(bias ? { bias: tensorOf(bias, [h, n, L], dtype) } : {}) };
        const out = backend.attention(q, keys, values, options);
        expect(out.shape).toEqual([n, h * d]);
        expect(out.isContiguous()).toBe(true);
        const packed = (t: typeof q) => valuesOf(backend.contiguous(t));
        const want = reference(packed(q), packed(keys), packed(values), h, n, L, d, scale, c.causalOffset, bias);
        // float16: scores and probabilities are rounded to float16 (2^-11 relative) on the way.
        expectClose(valuesOf(out), want, dtype === 'float32' ? { rel: 1e-5, abs: 1e-6 } : { rel: 4e-3, abs: 4e-3 }, `${JSON.stringify(c)} ${dtype}`);
        // the op is its composition, bit for bit
        expect(valuesOf(out)).toEqual(valuesOf(attentionByParts(backend, q, keys, values, options)));
      }
    });
  }

  it('says what was wrong with its arguments', () => {
    const q = tensorOf(new Array(2 * 3 * 4).fill(0), [2, 3, 4], 'float32');
    const k = tensorOf(new Array(2 * 5 * 4).fill(0), [2, 5, 4], 'float32');
    expect(() => backend.attention(q, k, k.narrow(1, 0, 4), { scale: 1 })).toThrow(/values must have shape \[2, 5, 4\]/);
    expect(() => backend.attention(q, k.narrow(2, 0, 3), k, { scale: 1 })).toThrow(/keys \[2, 5, 3\] must be \[2, L, 4\]/);
    expect(() => backend.attention(q, k, k, { scale: Number.NaN })).toThrow(/scale must be a finite number/);
    expect(() => backend.attention(q, k, k, { scale: 1, causalOffset: 0.5 })).toThrow(/causalOffset must be an integer/);
    expect(() => backend.attention(q, k, k, { scale: 1, bias: tensorOf(new Array(15).fill(0), [3, 5], 'float32') })).toThrow(/bias must have shape \[2, 3, 5\]/);
    expect(() => backend.attention(q, k, backend.upload(toFloat16Array(new Array(40).fill(0)), [2, 5, 4]), { scale: 1 })).toThrow(/share a dtype/);
  });
});

describe('ScoreBias terms on the CPU: a bias by distance and a key bias', () => {
  // What the terms stand for, written out: bias[h, i, j] = distance[h, j - i + n - 1] + key[j].
  const expanded = (dist: number[] | null, key: number[] | null, h: number, n: number, L: number) => {
    const out: number[] = [];
    for (let hh = 0; hh < h; hh++)
      for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) out.push((dist ? dist[hh * (n + L - 1) + j - i + n - 1] : 0) + (key ? key[j] : 0));
    return out;
  };
  for (const dtype of ['float32', 'float16'] as const) {
    it(`attention and softmax take them as the [heads, n, L] bias they stand for, bit for bit (${dtype})`, () => {
      const r = rng(73);
      for (const { h, n, L, d, causalOffset } of [
        { h: 3, n: 5, L: 5, d: 8 }, // T5's encoder: n = L
        { h: 2, n: 3, L: 9, d: 16, causalOffset: 6 },
        { h: 1, n: 7, L: 2, d: 4 },
        { h: 2, n: 1, L: 1, d: 8 },
      ]) {
        const q = tensorOf(randomValues(r, h * n * d, dtype), [h, n, d], dtype);
        const k = tensorOf(randomValues(r, h * L * d, dtype), [h, L, d], dtype);
        const v = tensorOf(randomValues(r, h * L * d, dtype), [h, L, d], dtype);
        const dist = randomValues(r, h * (n + L - 1), dtype, 2);
        // the padding mask: the last key masked where there are two or more (0 and -Infinity are exact sums)
        const key = Array.from({ length: L }, (_, j) => (L > 1 && j === L - 1 ? -Infinity : 0));
        const distanceBias = tensorOf(dist, [h, n + L - 1], dtype);
        const keyBias = tensorOf(key, [L], dtype);
        const co = causalOffset !== undefined ? { causalOffset } : {};
        for (const [terms, full] of [
          [{ distanceBias }, expanded(dist, null, h, n, L)],
          [{ distanceBias, keyBias }, expanded(dist, key, h, n, L)],
          [{ keyBias }, expanded(null, key, h, n, L)],
        ] as const) {
          const bias = tensorOf(full, [h, n, L], dtype);
          const what = `${dtype} h ${h} n ${n} L ${L} ${Object.keys(terms).join('+')}`;
          expect(valuesOf(backend.attention(q, k, v, { scale: 0.5, ...co, ...terms })), what).toEqual(valuesOf(backend.attention(q, k, v, { scale: 0.5, ...co, bias })));
          const x = tensorOf(randomValues(r, h * n * L, dtype), [h, n, L], dtype);
          expect(valuesOf(backend.softmax(x, { scale: 0.7, ...co, ...terms })), what).toEqual(valuesOf(backend.softmax(x, { scale: 0.7, ...co, bias })));
        }
        // a bias plus a key bias: the two added as the composition would
        const bias = tensorOf(randomValues(r, h * n * L, dtype), [h, n, L], dtype);
        const x = tensorOf(randomValues(r, h * n * L, dtype), [h, n, L], dtype);
        expect(valuesOf(backend.softmax(x, { bias, keyBias }))).toEqual(valuesOf(backend.softmax(x, { bias: backend.add(bias, keyBias) })));
      }
    });
  }

  it('says what was wrong with them', () => {
    const q = tensorOf(new Array(2 * 3 * 4).fill(0), [2, 3, 4], 'float32');
    const k = tensorOf(new Array(2 * 5 * 4).fill(0), [2, 5, 4], 'float32');
    const dist = tensorOf(new Array(2 * 7).fill(0), [2, 7], 'float32');
    const bias = tensorOf(new Array(2 * 3 * 5).fill(0), [2, 3, 5], 'float32');
    expect(() => backend.attention(q, k, k, { scale: 1, distanceBias: dist.narrow(1, 0, 6) })).toThrow(/distanceBias must have shape \[2, 7\]/);
    expect(() => backend.attention(q, k, k, { scale: 1, keyBias: tensorOf([0, 0, 0], [3], 'float32') })).toThrow(/keyBias must have shape \[5\]/);
    expect(() => backend.attention(q, k, k, { scale: 1, bias, distanceBias: dist })).toThrow(/bias or distanceBias, not both/);
    expect(() => backend.softmax(bias, { distanceBias: tensorOf(new Array(14).fill(0), [14], 'float32') })).toThrow(/distanceBias must have shape \[2, 7\]/);
  });
});

describe('attentionRoute (CUDA, no GPU needed)', () => {
  // CPM-2's encoder: q, k, v heads of one fused [512, 3·4096] projection.
  const view = (strides: number[], misalign = 0) => ({ strides, misalign });
  const base: AttentionRouteInput = {
    dtype: 'float16', ccMajor: 9, heads: 64, n: 512, L: 512, headDim: 64,
    q: view([64, 3 * 4096, 1]), keys: view([64, 3 * 4096, 1]), values: view([64, 3 * 4096, 1]), bias: { strides: [512 * 512, 512, 1] },
  };
  it('takes float16 heads of 64, 80 and 128 dimensions read in 16-byte pieces', () => {
    expect(attentionRoute(base)).toEqual({ kernel: 'attention_f16_d64' });
    expect(attentionRoute({ ...base, heads: 32, headDim: 80, causalOffset: 0, bias: undefined })).toEqual({ kernel: 'attention_f16_d80' });
    expect(attentionRoute({ ...base, headDim: 128, n: 1, L: 1 })).toEqual({ kernel: 'attention_f16_d128' });
    // T5's encoder with its bias by distance (row stride -1) and the padding as a key bias
    expect(attentionRoute({ ...base, bias: { strides: [1023, -1, 1] }, keyBias: { strides: [1] } })).toEqual({ kernel: 'attention_f16_d64_kb' });
  });
  it('leaves everything else to the composition, saying why', () => {
    const reason = (x: Partial<AttentionRouteInput>) => {
      const r = attentionRoute({ ...base, ...x });
      return 'reason' in r ? r.reason : 'fused';
    };
    expect(reason({ dtype: 'float32' })).toMatch(/float16, not float32/);
    expect(reason({ ccMajor: 7 })).toMatch(/compute capability 8.0/);
    expect(reason({ headDim: 32 })).toMatch(/32 dimensions/);
    expect(reason({ q: view([64, 4100, 1]) })).toMatch(/q is not read in 16-byte pieces/);
    expect(reason({ keys: view([64, 3 * 4096, 1], 2) })).toMatch(/keys is not read/);
    expect(reason({ values: view([1, 3 * 4096, 64]) })).toMatch(/values is not read/);
    expect(reason({ bias: { strides: [1, 512, 512 * 512] } })).toMatch(/non-unit last stride/);
    expect(reason({ keyBias: { strides: [2] } })).toMatch(/key bias has a non-unit stride/);
    expect(reason({ causalOffset: 2 ** 31 })).toMatch(/int32/);
  });
});
