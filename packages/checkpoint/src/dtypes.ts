// Source element types: their sizes, and the conversion of raw little-endian bytes into host arrays.
import { CheckpointError, type DType, type HostArray } from '@bminf/core';
import type { SourceDType, TensorData } from './types.js';

const SIZES: Record<SourceDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export const SOURCE_DTYPES = Object.keys(SIZES) as SourceDType[];

export function isSourceDType(v: unknown): v is SourceDType {
  return typeof v === 'string' && Object.hasOwn(SIZES, v);
}

export function sourceDTypeSize(d: SourceDType): number {
  return SIZES[d];
}

/** The host dtype a source dtype is read into. */
export function hostDTypeOf(d: SourceDType): DType {
  switch (d) {
    case 'F16':
      return 'float16';
    case 'I8':
    case 'BOOL':
      return 'int8';
    case 'I64':
    case 'I32':
    case 'I16':
    case 'U8':
      return 'int32';
    default:
      return 'float32';
  }
}

/** The safetensors dtype that stores a host dtype unchanged. */
export function sourceDTypeOf(d: DType): SourceDType {
  return ({ int8: 'I8', int32: 'I32', float16: 'F16', float32: 'F32' } as const)[d];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Converts raw bytes into the host representation. `bytes` must start at offset 0 of its own
 * ArrayBuffer (so typed views are aligned); same-width types become views with no copy.
 * F32 → float32, F16 → float16 bits, BF16 and F64 → float32, I8/BOOL → int8,
 * I32/I16/U8 → int32, I64 → int32 when every value fits (else CheckpointError).
 */
export function toTensorData(
  dtype: SourceDType,
  shape: number[],
  bytes: Uint8Array,
  where: { name: string; file: string },
): TensorData {
  const n = numelOf(shape);
  const buf = bytes.buffer;
  const off = bytes.byteOffset;
  let data: HostArray;
  switch (dtype) {
    case 'F32':
      data = new Float32Array(buf, off, n);
      break;
    case 'F16':
      data = new Uint16Array(buf, off, n);
      break;
    case 'BF16': {
      const src = new Uint16Array(buf, off, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16;
      data = new Float32Array(out.buffer);
      break;
    }
    case 'F64':
      data = Float32Array.from(new Float64Array(buf, off, n));
      break;
    case 'I8':
    case 'BOOL':
      data = new Int8Array(buf, off, n);
      break;
    case 'I32':
      data = new Int32Array(buf, off, n);
      break;
    case 'I16':
      data = Int32Array.from(new Int16Array(buf, off, n));
      break;
    case 'U8':
      data = Int32Array.from(new Uint8Array(buf, off, n));
      break;
    case 'I64': {
      // Little-endian pairs (low, high): a value fits in int32 when high is low's sign extension.
      const words = new Int32Array(buf, off, 2 * n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = words[2 * i];
        if (words[2 * i + 1] !== lo >> 31) {
          throw new CheckpointError(
            `tensor "${where.name}" is int64 and element ${i} (${new BigInt64Array(buf, off + 8 * i, 1)[0]}) does not fit in int32.`,
            { file: where.file, hint: 'bminf reads int64 tensors as int32; store this tensor as int32 or float.' },
          );
        }
        out[i] = lo;
      }
      data = out;
      break;
    }
  }
  return { dtype: hostDTypeOf(dtype), shape: [...shape], data };
}
