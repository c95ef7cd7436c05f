import { InvalidArgumentError } from './errors.js';

/** The element types of tensors. float16 is stored as raw IEEE half bits (Uint16Array on the host). */
export type DType = 'int8' | 'int32' | 'float16' | 'float32';

export const DTYPES: readonly DType[] = ['int8', 'int32', 'float16', 'float32'];

const SIZES: Record<DType, number> = { int8: 1, int32: 4, float16: 2, float32: 4 };

export function dtypeSize(dtype: DType): number {
  return SIZES[dtype];
}

export function isFloatDType(dtype: DType): dtype is 'float16' | 'float32' {
  return dtype === 'float16' || dtype === 'float32';
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** The host array type that holds a dtype's elements. */
export type HostArray = Int8Array | Int32Array | Uint16Array | Float32Array;

export type HostArrayOf<D extends DType> = D extends 'int8'
  ? Int8Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'float16'
      ? Uint16Array
      : Float32Array;

export function hostArray(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): HostArray {
  switch (dtype) {
    case 'int8':
      return new Int8Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'float16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
  }
}

export function dtypeOfArray(a: HostArray): DType {
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint16Array) return 'float16';
  return 'float32';
}

/** Model precision as users name it on the command line and in options. */
export type ModelDType = 'fp32' | 'fp16' | 'int8';
export const MODEL_DTYPES: readonly ModelDType[] = ['fp32', 'fp16', 'int8'];

export function parseModelDType(value: string): ModelDType {
  if ((MODEL_DTYPES as readonly string[]).includes(value)) return value as ModelDType;
  throw new InvalidArgumentError(`Unknown dtype "${value}".`, {
    hint: `Use one of: ${MODEL_DTYPES.join(', ')}.`,
  });
}
