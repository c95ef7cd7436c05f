// What the CUDA backend's op families (int8-ops.ts, linear-int8-ops.ts, float-ops.ts, attention-ops.ts,
// index-ops.ts) take from the backend (backend.ts): its memory, its launches, its checks and its state, as
// one narrow object the backend makes; and the small launch helpers they share. The addon, disposal and a
// capture are read from the backend at each use; the rest is fixed once the backend is made.
import { type Backend, type DType, type Shape, type Tensor, UnsupportedError } from '@bminf/core';
import type { CublasLt } from '@bminf/cublaslt';
import { type DeviceSpan, type IgemmPath, type KernelFunction, type LaunchArg, mapNativeError, type NativeCuda } from '@bminf/cuda-binding';
import type { PhaseQueue } from './decode-phases.js';
import type { CudaInfo } from './info.js';
import type { RoutePolicy } from './linear-route.js';
import type { Sm90Gemm } from './sm90-gemm.js';
import type { CudaStorage } from './storage.js';
import type { Tuner } from './tuner.js';

export type FloatDType = 'float16' | 'float32';

/** The backend's public ops: a family calls another family's op through them, as one class called `this.add(…)`. */
export interface CudaBackendOps extends Backend {
  normQuantizeRows(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): { values: Tensor; scales: Tensor };
}

export interface CudaOpsContext {
  /** The backend: its public ops, and the owner of its storages (CudaStorage.owner). */
  readonly backend: CudaBackendOps;
  readonly info: CudaInfo;
  /** The addon, every call first launching the queued decode phases (decode-phases.ts). */
  readonly native: NativeCuda;
  readonly lt: CublasLt;
  readonly sm90: Sm90Gemm;
  readonly routes: RoutePolicy;
  readonly tuner: Tuner;
  readonly phases: PhaseQueue;
  readonly igemmPath: IgemmPath;
  /** The backend was disposed. */
  readonly disposed: boolean;
  /** A step is being captured (captureStep). */
  readonly capturing: boolean;
  /** The backend is alive and the tensors are alive and its own. */
  check(op: string, ...ts: (Tensor | null | undefined)[]): void;
  /** Device memory of `bytes`, from the step's arena while one is captured. */
  alloc(bytes: number): CudaStorage;
  make(shape: Shape, dtype: DType): Tensor;
  /** A [rows, cols] tensor whose storage runs on for ltSlackBytes (cublasLt's whole tiles). */
  makeLt(shape: readonly [number, number], dtype: DType): Tensor;
  span(t: Tensor): DeviceSpan;
  /** Tensors' spans as the addon's launch takes them: region, byteOffset, byteLength each. */
  flat(ts: Tensor[]): LaunchArg[];
  fn(name: string): KernelFunction;
  launch(name: string, grid: number, block: number, sig: string, args: (Tensor | DeviceSpan | number)[], graph?: boolean): void;
  /** x when it is packed, else a packed copy (the caller disposes what it did not pass in). */
  packed(x: Tensor): Tensor;
}

/**
 * An op's output once fill(out) has written it. Where fill throws, out (the op's to return, so no one
 * else holds it) is disposed and the error rethrown, through mapNativeError for `op` where given.
 */
export function filled(out: Tensor, fill: (out: Tensor) => void, op?: string): Tensor {
  try {
    fill(out);
  } catch (e) {
    out.dispose();
    throw op ? mapNativeError(e, op) : e;
  }
  return out;
}

/** Disposes the packed copies among `used` (those that are not the caller's own `given` tensors). */
export function disposeCopies(used: readonly (Tensor | null | undefined)[], given: readonly (Tensor | null | undefined)[]): void {
  used.forEach((t, i) => {
    if (t && t !== given[i]) t.dispose();
  });
}
export const sfx = (d: DType): string => (d === 'float16' ? 'f16' : 'f32');
export const up32 = (n: number): number => Math.max(32, Math.min(1024, Math.ceil(n / 32) * 32));

export function gridFor(total: number, threads = 256): number {
  return Math.max(1, Math.min(Math.ceil(total / threads), 2 ** 31 - 1));
}

/** Shape and strides padded to rank 4 with leading 1s (strides 0), for the strided kernels. */
export function dims4(t: Tensor, op: string): { n: number[]; s: number[] } {
  if (t.rank > 4) throw new UnsupportedError(`${op}: tensors of rank ${t.rank} are not supported (at most 4).`, { hint: 'Reshape it first.' });
  const pad = 4 - t.rank;
  return { n: [...Array(pad).fill(1), ...t.shape], s: [...Array(pad).fill(0), ...t.strides] };
}

/** The tensor's first byte is 16-byte aligned in device memory (what the vector kernels need). */
export const aligned16 = (t: Tensor): boolean => ((t.storage as CudaStorage).base + t.byteOffset) % 16 === 0;

/** RoutePolicy.decodePhases where decode_phases exists (compute capability 7.0+, phases.cu), else 0. */
export function phasePerSm(cx: CudaOpsContext): number {
  return (cx.info.computeCapability?.[0] ?? 0) >= 7 ? cx.routes.decodePhases : 0;
}
