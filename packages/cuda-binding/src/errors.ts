// The addon throws plain Errors with a `code` (native/src/cuda/handles.h) or TypeError/RangeError for
// bad arguments; everything above it throws @bminf/core's typed errors, so callers can tell an
// out-of-memory from a freed tensor without parsing messages.
import {
  BackendUnavailableError,
  BminfError,
  DeviceFaultError,
  DisposedError,
  InvalidArgumentError,
  OutOfMemoryError,
  UnsupportedError,
} from '@bminf/core';

/** Turns an error thrown by the addon into bminf's typed errors, keeping the message; `what` names the call. */
export function mapNativeError(e: unknown, what: string): Error {
  if (e instanceof BminfError) return e;
  const err = e as { code?: string; message?: string };
  const msg = `${what}: ${err?.message ?? String(e)}`;
  switch (err?.code) {
    case 'BMINF_CUDA_UNAVAILABLE':
      return new BackendUnavailableError(msg, { hint: 'Use --device cpu.', cause: e });
    case 'BMINF_CUDA_OOM':
      return new OutOfMemoryError('cuda:0', 0, 0, `${msg}. Lower the memory limit of the CUDA backend or use a smaller model.`);
    case 'BMINF_DISPOSED':
      return new DisposedError(`${what}: device memory`);
    case 'BMINF_CUBLASLT_UNSUPPORTED':
      return new UnsupportedError(msg, { cause: e });
  }
  if (e instanceof RangeError || e instanceof TypeError) return new InvalidArgumentError(msg, { cause: e });
  if (DEVICE_FAULT.test(err?.message ?? '')) return new DeviceFaultError(msg, { cause: e });
  return e instanceof Error ? e : new Error(msg);
}

/** The driver's and cublasLt's names for a kernel that failed on the device (sticky: the context is lost). */
const DEVICE_FAULT =
  /CUDA_ERROR_(ILLEGAL_ADDRESS|LAUNCH_FAILED|ILLEGAL_INSTRUCTION|MISALIGNED_ADDRESS|INVALID_PC|HARDWARE_STACK_ERROR|INVALID_ADDRESS_SPACE|ASSERT)|CUBLAS_STATUS_EXECUTION_FAILED/;
