// Typed errors. Every message says what was wrong and, where there is one, what to do about it
// (the `hint`), in the manner of sharp: "Expected X for Y but received Z. Do W."

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'DEVICE_MISMATCH'
  | 'DISPOSED'
  | 'OUT_OF_MEMORY'
  | 'CHECKPOINT'
  | 'MODEL_CONFIG'
  | 'UNSUPPORTED'
  | 'BACKEND_UNAVAILABLE'
  | 'TOKENIZER'
  | 'ABORTED'
  | 'DEVICE_FAULT';

export class BminfError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(options?.hint ? `${message} ${options.hint}` : message, { cause: options?.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options?.hint;
  }
}

/** An argument that is out of range, of the wrong kind, or otherwise unusable. */
export class InvalidArgumentError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** Tensor shapes that do not fit together. */
export class ShapeMismatchError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('SHAPE_MISMATCH', message, options);
  }
}

export class DTypeMismatchError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('DTYPE_MISMATCH', message, options);
  }
}

export class DeviceMismatchError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('DEVICE_MISMATCH', message, options);
  }
}

/** A tensor, model or other resource used after `dispose()`. */
export class DisposedError extends BminfError {
  constructor(what: string) {
    super('DISPOSED', `${what} was used after dispose().`, {
      hint: 'Keep a reference alive until the last use, or create it again.',
    });
  }
}

export class OutOfMemoryError extends BminfError {
  readonly requestedBytes: number;
  readonly freeBytes: number;
  constructor(where: string, requestedBytes: number, freeBytes: number, hint?: string) {
    super(
      'OUT_OF_MEMORY',
      `Out of memory on ${where}: asked for ${formatBytes(requestedBytes)}, ${formatBytes(freeBytes)} free.`,
      { hint: hint ?? 'Use a smaller model, batch or context, or raise the memory limit.' },
    );
    this.requestedBytes = requestedBytes;
    this.freeBytes = freeBytes;
  }
}

/** A checkpoint file that is missing, truncated, malformed or inconsistent. */
export class CheckpointError extends BminfError {
  readonly file: string | undefined;
  constructor(message: string, options?: { file?: string; hint?: string; cause?: unknown }) {
    super('CHECKPOINT', options?.file ? `${options.file}: ${message}` : message, options);
    this.file = options?.file;
  }
}

/** A model configuration that is missing, invalid, or disagrees with the weights. */
export class ModelConfigError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('MODEL_CONFIG', message, options);
  }
}

export class UnsupportedError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('UNSUPPORTED', message, options);
  }
}

/** A backend (the CUDA one) that cannot be used on this machine, with the reason. */
export class BackendUnavailableError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
  }
}

export class TokenizerError extends BminfError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('TOKENIZER', message, options);
  }
}

export class AbortedError extends BminfError {
  constructor(message = 'The operation was aborted.') {
    super('ABORTED', message);
  }
}

/**
 * A kernel failed on the GPU (an illegal address, a launch failure, cublasLt's EXECUTION_FAILED). CUDA
 * keeps such an error in the context: every later call of this process on that GPU fails too.
 */
export class DeviceFaultError extends BminfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DEVICE_FAULT', message, {
      ...options,
      hint:
        'The GPU context cannot be used after this (CUDA keeps the error): restart the process. To find the ' +
        'kernel, run once with CUDA_LAUNCH_BLOCKING=1 (the failing call then names itself) or under ' +
        'compute-sanitizer, and report it with that output.',
    });
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A byte count from a number or a string such as "6GiB", "512 MiB", "2.5GB" or "4096" (binary units
 * are powers of 1024, decimal ones of 1000). `what` names the setting in the error.
 */
export function parseBytes(value: number | string, what = 'A memory size'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
    throw new InvalidArgumentError(`${what} must be a positive whole number of bytes, not ${String(value)}.`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(value));
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidArgumentError(`${what} "${String(value)}" is not a size.`, {
      hint: 'Give bytes, or a number with a unit: 6GiB, 512MiB, 2.5GB.',
    });
  }
  return bytes;
}
