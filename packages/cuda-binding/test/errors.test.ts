// How errors from the addon become bminf's typed errors (no GPU needed: the addon's errors are made here
// as the addon makes them, a plain Error with a code, or a TypeError/RangeError).
import { BackendUnavailableError, DeviceFaultError, DisposedError, InvalidArgumentError, OutOfMemoryError, UnsupportedError } from '@bminf/core';
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
  it('say that a kernel failed on the GPU, that the context is lost, and how to find the kernel', () => {
    for (const message of [
      'cublasLtMatmul failed: CUBLAS_STATUS_EXECUTION_FAILED (13)',
      'cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered',
      'cuLaunchKernelEx(linear_mma) failed: CUDA_ERROR_LAUNCH_FAILED (719)',
    ]) {
      const e = mapNativeError(native(message, 'BMINF_CUDA_ERROR'), 'igemm');
      expect(e, message).toBeInstanceOf(DeviceFaultError);
      expect((e as DeviceFaultError).code).toBe('DEVICE_FAULT');
      expect(e.message).toContain(`igemm: ${message}`);
      expect(e.message).toMatch(/restart the process.*CUDA_LAUNCH_BLOCKING=1/);
    }
    // an argument the driver refused is not a fault of the device
    const invalid = native('cuLaunchKernelEx(linear_mma_norm) failed: CUDA_ERROR_INVALID_VALUE (1): invalid argument', 'BMINF_CUDA_ERROR');
    expect(mapNativeError(invalid, 'linearInt8')).toBe(invalid);
  });
});
