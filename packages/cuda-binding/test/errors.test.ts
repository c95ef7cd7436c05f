// How errors from the addon become bminf's typed errors (no GPU needed: the addon's errors are made here
// as the addon makes them, a plain Error with a code, or a TypeError/RangeError).
import { BackendUnavailableError, DisposedError, InvalidArgumentError, OutOfMemoryError, UnsupportedError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { mapNativeError } from '@bminf/cuda-binding';

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
