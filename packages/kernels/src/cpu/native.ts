// Typed signatures of the addon's CPU functions (native/src/cpu/ops.h says what each computes). They
// check their own arguments and throw TypeError/RangeError; the backend checks first, with typed errors.
import { createRequire } from 'node:module';
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
  linearInt8(
    x: FloatArray, xOffset: number, n: number, k: number, weight: Int8Array, weightOffset: number, m: number,
    weightScale: Uint16Array, weightScaleOffset: number, bias: FloatArray | null, biasOffset: number,
    residual: FloatArray | null, residualOffset: number, out: FloatArray, outOffset: number,
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
    biasRowStride: number, colBias: FloatArray | null, colBiasOffset: number,
  ): void;
  gelu(x: FloatArray, xOffset: number, out: FloatArray, outOffset: number, n: number): void;
  binary(op: 'add' | 'mul', a: FloatArray, aOffset: number, n: number, b: FloatArray, bOffset: number, bn: number, out: FloatArray, outOffset: number): void;
  embedding(ids: Int32Array, idsOffset: number, n: number, table: HostArray, tableOffset: number, vocab: number, dim: number, out: HostArray, outOffset: number): void;
  zero(dst: HostArray, dstOffset: number, n: number): void;
  scatterRows(
    src: HostArray, srcOffset: number, srcRowStride: number, n: number, w: number,
    dst: HostArray, dstOffset: number, dstRows: number, index: Int32Array, indexOffset: number,
  ): void;
  attendCache(
    q: FloatArray, qOffset: number, qRowStride: number, batch: number, heads: number, headDim: number,
    keys: FloatArray, keysOffset: number, values: FloatArray, valuesOffset: number, lengths: Int32Array, lengthsOffset: number,
    slotRows: number, scale: number, bias: FloatArray | null, biasOffset: number, out: FloatArray, outOffset: number,
    appendKeys: FloatArray | null, appendKeysOffset: number, appendValues: FloatArray | null, appendValuesOffset: number, appendRowStride: number,
  ): void;
  /** The lowest index of the largest of x[offset .. offset + n), NaN skipped; -1 when all are NaN or -Infinity. */
  argmax(x: Float32Array, offset: number, n: number): number;
  /**
   * ids[idsOffset + r] = argmax (as argmax()) of row r of x [rows, n] packed at xOffset, never column
   * `exclude` (-1: none). A step op: recorded on a tape like the others.
   */
  argmaxRows(x: Float32Array, xOffset: number, rows: number, n: number, exclude: number, ids: Int32Array, idsOffset: number): void;
  /**
   * The token drawn by u in [0, 1) from logits[offset .. offset + n) after the penalties (np pairs of
   * id and count), temperature, top-k (0 or n and more: off) and top-p, as the sampler's reference computes it; -1
   * when every logit is NaN or -Infinity. u < 0: the distribution itself ({ ids, probs }; null for
   * no choice). native/src/cpu/sample.cc.
   */
  sample(
    logits: Float32Array, offset: number, n: number, penaltyIds: Int32Array, penaltyCounts: Int32Array, np: number,
    frequency: number, presence: number, temperature: number, topK: number, topP: number, u: number,
  ): number | { ids: Int32Array; probs: Float64Array } | null;
  /**
   * sample() for each row r (logits[r], its penalties, params[6 r .. 6 r + 5]: frequency, presence,
   * temperature, topK, topP, u), the rows spread over the thread pool; out[r] = the token, or -1.
   */
  sampleRows(logits: Float32Array[], penaltyIds: Int32Array[], penaltyCounts: Int32Array[], params: Float64Array, out: Int32Array): void;
  /** A recorded sequence of ops (native/src/cpu/tape.h). */
  Tape: new () => NativeTape;
  /** From now on, ops called on this thread are appended to `tape` instead of run, until endCapture(). */
  beginCapture(tape: NativeTape): void;
  /** Stops recording (a no-op when nothing is being recorded); the tape can run from now on. */
  endCapture(): void;
  info(): CpuKernelInfo;
  /** Forces the plain C++ kernels (true) or restores the default choice (false), process-wide. */
  setPlainKernels(plain: boolean): void;
  /** Forces an instruction-set path (where the CPU lacks it, the highest below it runs), or restores the default (null). */
  setIsa(isa: CpuIsa | null): void;
  /** The threads ops may use from now on (1..256; 0 restores the default), process-wide. */
  setThreads(threads: number): void;
}

export interface NativeTape {
  /**
   * Replays the recorded ops in order on a worker thread. Rejects, with an Error whose `kind` is
   * "busy" (still recording, or a run in flight), "disposed", "detached" (a buffer it uses was
   * detached), "memory" or "failed" (an op threw; its index and name are in the message).
   */
  run(): Promise<void>;
  /** Replays the recorded ops on the calling thread; throws what run() rejects with. */
  runInline(): void;
  /** Microseconds the last replay took (-1 before the first). */
  readonly lastRunMicros: number;
  /** Frees the ops and the buffer references (when a run in flight ends, if one is). */
  dispose(): void;
  /** The number of recorded ops. */
  readonly length: number;
  readonly running: boolean;
}

const require = createRequire(import.meta.url);
let cpu: NativeCpu | undefined;

/**
 * The addon's CPU functions, loaded on first use: importing bminf works where the addon is missing (so
 * `bminf --help` and `bminf info` do), and the first op throws @bminf/native's BMINF_NATIVE_MISSING error,
 * which says what to install and run.
 */
export const nativeCpu: NativeCpu = new Proxy({} as NativeCpu, {
  get: (_, key) => (cpu ??= (require('@bminf/native') as { cpu: NativeCpu }).cpu)[key as keyof NativeCpu],
});
