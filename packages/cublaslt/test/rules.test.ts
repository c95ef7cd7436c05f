// The parts of @bminf/cublaslt that need no GPU: cublasLt's shape rules and row padding. (The GEMMs
// themselves are tested in packages/kernels/test-gpu.)
import { describe, expect, it } from 'vitest';
import { igemmShapeProblem, ltSlackBytes, paddedRows } from '@bminf/cublaslt';

describe('igemm shape rules', () => {
  it('accepts k and n that are multiples of 4, any m', () => {
    for (const m of [0, 1, 3, 17]) expect(igemmShapeProblem(m, 4096, 10240)).toBeNull();
  });
  it('names the dimension that is not a multiple of 4', () => {
    expect(igemmShapeProblem(8, 8, 6)).toMatch(/inner dimension k = 6 is not a multiple of 4/);
    expect(igemmShapeProblem(8, 10, 8)).toMatch(/output columns n = 10/);
  });
  it('pads rows to a multiple of 4', () => {
    expect([0, 1, 3, 4, 5, 16, 17].map(paddedRows)).toEqual([0, 4, 4, 4, 8, 16, 20]);
  });
  it('asks for room up to the next 256 rows past an int8 operand, and 4 KiB', () => {
    expect(ltSlackBytes(32, 10240)).toBe(224 * 10240 + 4096);
    expect(ltSlackBytes(512, 4096)).toBe(4096);
    expect(ltSlackBytes(257, 16)).toBe(255 * 16 + 4096);
  });
});
