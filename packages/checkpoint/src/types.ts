// The one interface every checkpoint format is read through.
import type { DType, HostArray } from '@bminf/core';

/** Element types as checkpoints store them (safetensors' names; PyTorch storages map onto them). */
export type SourceDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  name: string;
  dtype: SourceDType;
  shape: number[];
  /** Bytes the tensor occupies in the file (product(shape) x element size). */
  byteLength: number;
  /** The file the tensor lives in. */
  file: string;
}

export interface TensorData {
  dtype: DType;
  shape: number[];
  data: HostArray;
}

export interface CheckpointSource {
  readonly path: string;
  /** Tensor names, in file order. */
  names(): string[];
  /** Throws CheckpointError naming the tensor and the file when absent. */
  info(name: string): TensorInfo;
  /** Reads just that tensor with positional reads, converted to a host dtype (see `toTensorData`). */
  read(name: string, options?: ReadOptions): Promise<TensorData>;
  close(): Promise<void>;
}

export interface ReadOptions {
  /**
   * Read the tensor's bytes into this buffer (from offset 0) when it is large enough, instead of a
   * fresh allocation: a converter reusing one buffer keeps its memory flat. Same-width dtypes are then
   * returned as views over it, valid until the buffer is reused.
   */
  buffer?: ArrayBuffer;
}
