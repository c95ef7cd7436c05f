import { describe, expect, it } from 'vitest';
import { backend, tensorOf, valuesOf } from './helpers.js';

describe('cpu backend smoke', () => {
  it('runs a float gemm and an int8 linear', () => {
    const a = tensorOf([1, 2, 3, 4], [2, 2], 'float32');
    const b = tensorOf([5, 6, 7, 8], [2, 2], 'float32');
    expect(valuesOf(backend.gemm(a, b))).toEqual([19, 22, 43, 50]);
    const q = backend.quantizeRows(a);
    const acc = backend.igemm(q.values, q.values);
    const y = backend.dequantize(acc, q.scales, q.scales, { dtype: 'float32' });
    expect(valuesOf(y)[0]).toBeCloseTo(5, 1);
  });
});
