// Typed wrappers over the addon's cublasLt bindings: integer GEMM (int8 x int8 -> int32) and float
// GEMM (float16/float32 storage, float32 accumulation, batched and strided), with cublasLt's rules
// checked here first so that a shape it cannot take fails with a clear error, not a status code.
// Plans (descriptors, layouts, the algorithm) are cached per shape in the addon; the algorithm is
// chosen from cublasLt's heuristic candidates by timing them once, with a 32 MiB workspace.
import { BackendUnavailableError, InvalidArgumentError, ShapeMismatchError } from '@bminf/core';
import { type DeviceSpan, type IgemmPath, loadNativeCuda, mapNativeError, type NativeCuda, nativeLoadError } from '@bminf/cuda-binding';

export type { IgemmPath } from '@bminf/cuda-binding';

/** Why igemm cannot take this shape on cublasLt, or null. m (rows of A) may be anything: it is padded. */
export function igemmShapeProblem(m: number, n: number, k: number): string | null {
  if (k % 4 !== 0) return `the inner dimension k = ${k} is not a multiple of 4 (cublasLt's int8 kernels need it)`;
  if (n % 4 !== 0) return `the output columns n = ${n} (rows of B) are not a multiple of 4 (cublasLt's int8 kernels need it)`;
  return null;
}

export interface GemmArgs {
  dtype: 'float16' | 'float32';
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  /** A: rows of `lda` elements, batches `strideA` elements apart. */
  a: DeviceSpan;
  lda: number;
  strideA: number;
  b: DeviceSpan;
  ldb: number;
  strideB: number;
  /** C: packed [batch, m, n]. */
  c: DeviceSpan;
  batch: number;
}

export class CublasLt {
  constructor(private readonly native: NativeCuda) {}

  /**
   * C[m, n] (int32) = A[m, k] (int8) · B[n, k]ᵀ, all packed row-major. k and n must be multiples of 4
   * and every span 4-byte aligned; m is free here (callers pad it to a multiple of 4, see
   * `paddedRows`). path 'auto' takes the TN layouts on sm_90+ and the COL32 transforms on sm_75–89.
   */
  igemm(a: DeviceSpan, b: DeviceSpan, c: DeviceSpan, m: number, n: number, k: number, path: IgemmPath = 'auto'): void {
    const problem = igemmShapeProblem(m, n, k);
    if (problem) {
      throw new ShapeMismatchError(`igemm [${m}, ${k}] x [${n}, ${k}]ᵀ: ${problem}.`, {
        hint: 'Pad the weight (out and in features) to a multiple of 4, or use the CPU backend.',
      });
    }
    for (const [name, s] of [['A', a], ['B', b], ['C', c]] as const) {
      if (s.byteOffset % 4 !== 0) {
        throw new InvalidArgumentError(`igemm: ${name} starts at byte ${s.byteOffset}, which is not 4-byte aligned (cublasLt needs it).`, {
          hint: 'Pass a packed tensor of its own (backend.contiguous makes one).',
        });
      }
    }
    try {
      this.native.igemm(a.region, a.byteOffset, a.byteLength, b.region, b.byteOffset, b.byteLength, c.region, c.byteOffset, c.byteLength, m, n, k, path);
    } catch (e) {
      throw mapNativeError(e, 'igemm');
    }
  }

  /** Row-major float GEMM, batched and strided (see GemmArgs and Backend.gemm). */
  gemm(g: GemmArgs): void {
    try {
      this.native.gemm(
        g.dtype, g.transA, g.transB, g.m, g.n, g.k, g.alpha,
        g.a.region, g.a.byteOffset, g.a.byteLength, g.lda, g.strideA,
        g.b.region, g.b.byteOffset, g.b.byteLength, g.ldb, g.strideB,
        g.c.region, g.c.byteOffset, g.c.byteLength, g.batch,
      );
    } catch (e) {
      throw mapNativeError(e, 'gemm');
    }
  }
}

/** Rows of A after padding for cublasLt's int8 kernels: the next multiple of 4. */
export function paddedRows(m: number): number {
  return Math.ceil(m / 4) * 4;
}

/**
 * Bytes past its last row that an operand (A, or the int32 product) of cublasLt's int8 kernels must have
 * in memory of its own: the rows up to the next multiple of 256, and 4 KiB. Some of its kernels take whole
 * tiles of rows whatever the row count: on an H100 (cublasLt 13.1) a candidate for 32 x 4096 x 10240 (id 39,
 * tile 15, 36 stages) faulted with CUDA_ERROR_ILLEGAL_ADDRESS when the product sat near the end of its
 * device allocation, and ran wherever memory followed (packages/kernels/cuda/NOTES.md).
 */
export function ltSlackBytes(rows: number, rowBytes: number): number {
  return (Math.ceil(rows / 256) * 256 - rows) * rowBytes + 4096;
}

/** Bytes to allocate for `rows` rows of `rowBytes` that go to cublasLt's int8 kernels: the rows and ltSlackBytes. */
export function ltStorageBytes(rows: number, rowBytes: number): number {
  return rows * rowBytes + ltSlackBytes(rows, rowBytes);
}

let shared: CublasLt | null = null;
/** The shared wrapper over the addon (throws BackendUnavailableError when the addon has no CUDA). */
export function cublasLt(): CublasLt {
  if (shared) return shared;
  const n = loadNativeCuda();
  if (!n) {
    const e = nativeLoadError();
    throw new BackendUnavailableError(`The bminf addon could not be loaded: ${String((e as Error)?.message ?? e)}`);
  }
  shared = new CublasLt(n);
  return shared;
}
