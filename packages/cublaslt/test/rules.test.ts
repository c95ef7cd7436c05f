// The parts of @bminf/cublaslt that need no GPU: cublasLt's shape rules, row padding, and how errors
// from the addon become bminf's typed errors. (The GEMMs themselves are tested in packages/kernels/test-gpu.)
import { BackendUnavailableError, DisposedError, InvalidArgumentError, OutOfMemoryError, UnsupportedError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { igemmShapeProblem, mapNativeError, paddedRows } from '@bminf/cublaslt';

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
});

describe('errors from the addon', () => {
  const native = (message: string, code?: string, Ctor: ErrorConstructor = Error) => Object.assign(new Ctor(message), code ? { code } : {});
  it('map to typed errors and keep the message', () => {
    expect(mapNativeError(native('CUDA is unavailable: no device', 'BMINF_CUDA_UNAVAILABLE'), 'gemm')).toBeInstanceOf(BackendUnavailableError);
    const oom = mapNativeError(native('cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY', 'BMINF_CUDA_OOM'), 'reserving 8 GiB');
    expect(oom).toBeInstanceOf(OutOfMemoryError);
    expect(oom.message).toMatch(/reserving 8 GiB: cuMemAlloc failed/);
    expect(mapNativeError(native('freed', 'BMINF_DISPOSED'), 'igemm')).toBeInstanceOf(DisposedError);
    const un = mapNativeError(native('cublasLt has no algorithm', 'BMINF_CUBLASLT_UNSUPPORTED'), 'igemm');
    expect(un).toBeInstanceOf(UnsupportedError);
    expect(un.message).toBe('igemm: cublasLt has no algorithm');
    expect(mapNativeError(native('A: bytes 0..8 lie outside', undefined, RangeError), 'igemm')).toBeInstanceOf(InvalidArgumentError);
    const plain = new Error('something else');
    expect(mapNativeError(plain, 'x')).toBe(plain);
  });
});
