// Typed signatures of the addon's CPU functions (native/src/cpu/ops.h says what each computes). They
// check their own arguments and throw TypeError/RangeError; the backend checks first, with typed errors.
import native from '@bminf/native';
import type { HostArray } from '@bminf/core';

type FloatArray = Float32Array | Uint16Array;

/** The CPU kernel paths, lowest first: plain C++, AVX2/FMA/F16C, AVX-VNNI and AVX-512 VNNI (int8 kernels). */
export type CpuIsa = 'plain' | 'avx2' | 'avxvnni' | 'avx512';

export interface CpuKernelInfo {
  /** The CPU has AVX2+FMA+F16C. */
  avx2: boolean;
  /** The AVX2 (or AVX-512) kernels are in use. */
  usingAvx2: boolean;
  /** The path in use. */
  isa: CpuIsa;
  /** Every path this CPU can run, lowest first. */
  isas: CpuIsa[];
  threads: number;
}

export interface NativeCpu {
  copy(src: HostArray, srcOffset: number, srcStrides: number[], dst: HostArray, dstOffset: number, dstStrides: number[], shape: number[]): void;
  quantizeRows(x: FloatArray, xOffset: number, rows: number, cols: number, values: Int8Array, valuesOffset: number, scales: Uint16Array, scalesOffset: number): void;
  dequantize(
    acc: Int32Array, accOffset: number, m: number, n: number,
    rowScale: Uint16Array, rowScaleOffset: number, colScale: Uint16Array, colScaleOffset: number,
    bias: FloatArray | null, biasOffset: number, out: FloatArray, outOffset: number,
  ): void;
  igemm(a: Int8Array, aOffset: number, b: Int8Array, bOffset: number, c: Int32Array, cOffset: number, m: number, n: number, k: number): void;
  gemm(
    a: FloatArray, aOffset: number, lda: number, strideA: number,
    b: FloatArray, bOffset: number, ldb: number, strideB: number,
    out: FloatArray, outOffset: number, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, alpha: number,
  ): void;
  layerNorm(
    x: FloatArray, xOffset: number, rows: number, cols: number, weight: FloatArray, weightOffset: number,
    bias: FloatArray | null, biasOffset: number, out: FloatArray, outOffset: number, eps: number, subtractMean: boolean,
  ): void;
  softmax(
    x: FloatArray, xOffset: number, batch: number, rows: number, cols: number, out: FloatArray, outOffset: number,
    scale: number, causalOffset: number | null, bias: FloatArray | null, biasOffset: number, biasBatchStride: number,
    biasRowStride: number,
  ): void;
  gelu(x: FloatArray, xOffset: number, out: FloatArray, outOffset: number, n: number): void;
  binary(op: 'add' | 'mul', a: FloatArray, aOffset: number, n: number, b: FloatArray, bOffset: number, bn: number, out: FloatArray, outOffset: number): void;
  embedding(ids: Int32Array, idsOffset: number, n: number, table: HostArray, tableOffset: number, vocab: number, dim: number, out: HostArray, outOffset: number): void;
  info(): CpuKernelInfo;
  /** Forces the plain C++ kernels (true) or restores the default choice (false), process-wide. */
  setPlainKernels(plain: boolean): void;
  /** Forces an instruction-set path (where the CPU lacks it, the highest below it runs), or restores the default (null). */
  setIsa(isa: CpuIsa | null): void;
  /** The threads ops may use from now on (1..256; 0 restores the default), process-wide. */
  setThreads(threads: number): void;
}

export const nativeCpu: NativeCpu = native.cpu as NativeCpu;
