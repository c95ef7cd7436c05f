// Typed signatures of the addon's `cuda` functions (native/src/cuda/*.cc registers them). They check
// their own arguments (TypeError/RangeError) and that every byte range lies inside live device memory;
// the layers above check first, with typed errors, and map what the addon throws with mapNativeError.
// Handles the addon makes are opaque: only the addon reads them, so each is its own branded type and
// one cannot be passed where another is expected.

/** A device reservation (cuMemAlloc) made by `reserve`; freed by `release` or when collected. */
export interface DeviceRegion {
  readonly __bminf: 'DeviceRegion';
}
/** A loaded CUBIN or PTX image (`loadModule`). Modules stay loaded for the life of the process. */
export interface KernelModule {
  readonly __bminf: 'KernelModule';
}
/** A kernel of a module (`getFunction`). */
export interface KernelFunction {
  readonly __bminf: 'KernelFunction';
}
/** A timing event on the addon's stream (`eventCreate`). */
export interface CudaEvent {
  readonly __bminf: 'CudaEvent';
}
/** A TMA tensor map over bytes of a region (`tensorMap2d`); keeps its region alive. */
export interface TensorMap {
  readonly __bminf: 'TensorMap';
}
/** A captured step's CUDA graph (`endStepCapture`). */
/** Pinned (page-locked) host memory made by `hostReserve`; freed by `hostRelease` or when collected. */
export interface PinnedHostRegion {
  readonly __bminfPinnedHostRegion: unique symbol;
}

export interface StepGraphHandle {
  readonly __bminf: 'StepGraphHandle';
}

/** Host memory the addon copies from or into: any TypedArray (a Buffer is a Uint8Array). */
export type HostBytes =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** What `info()` reports (never throws): the GPU, the libraries and where they were loaded from, or why CUDA is unusable. */
export interface CudaInfo {
  available: boolean;
  /** Why CUDA cannot be used, when it cannot. */
  reason?: string;
  /** The CUresult of the failing driver call, when one failed. */
  errorCode?: number;
  deviceName?: string;
  computeCapability?: [number, number];
  multiprocessors?: number;
  totalMemory?: number;
  freeMemory?: number;
  /** e.g. 13000 for CUDA 13.0. */
  driverVersion?: number;
  cublasLtVersion?: number;
  nvrtcVersion?: [number, number];
  paths: { cuda?: string; cublasLt?: string; nvrtc?: string };
  cublasLtError?: string;
  nvrtcError?: string;
}

/** NVRTC's answer (`compile`): a CUBIN for an sm_XY architecture, PTX for compute_XY, the log either way. */
export interface CompileResult {
  ok: boolean;
  cubin?: Buffer;
  ptx?: Buffer;
  log: string;
  /** NVRTC's error name when ok is false. */
  error?: string;
}

/** igemm's layouts: 'auto' takes TN on sm_90+ and the COL32 transforms on sm_75–89; 'tn' and 'col32' force one. */
export type IgemmPath = 'auto' | 'tn' | 'col32';

/**
 * One kernel argument of `launch`, as its signature letter says: p = three entries (region, byteOffset,
 * byteLength), i / l / f = a number (int32, int64, float32), t = a TensorMap.
 */
export type LaunchArg = DeviceRegion | TensorMap | number;

export type Dim3 = readonly [number, number, number];

export interface NativeCuda {
  // ---- register.cc: availability ----------------------------------------------------------------
  info(): CudaInfo;
  /** True when a usable GPU, cublasLt and NVRTC were found. */
  available(): boolean;

  // ---- memory.cc: reservations, copies, the stream, events --------------------------------------
  reserve(bytes: number): DeviceRegion;
  /** Waits for queued work, then frees the region (a no-op when already freed). */
  release(region: DeviceRegion): void;
  memInfo(): { free: number; total: number };
  /** Queues the copy of all of `data` (exactly byteLength bytes) to the device; `data` may be reused at once. */
  upload(region: DeviceRegion, byteOffset: number, byteLength: number, data: HostBytes): void;
  /** Waits for queued work, then fills `out` (exactly byteLength bytes). */
  download(region: DeviceRegion, byteOffset: number, byteLength: number, out: HostBytes): void;
  /** Device to device; both lengths must be equal. */
  copy(src: DeviceRegion, srcOffset: number, srcLength: number, dst: DeviceRegion, dstOffset: number, dstLength: number): void;
  /** Sets every byte of the span to `byte` (0–255). */
  fill(region: DeviceRegion, byteOffset: number, byteLength: number, byte: number): void;
  synchronize(): void;
  eventCreate(): CudaEvent;
  eventRecord(event: CudaEvent): void;
  /** Milliseconds between two recorded events (waits for `end`). */
  eventElapsed(start: CudaEvent, end: CudaEvent): number;

  // ---- module.cc: NVRTC, modules, launches ------------------------------------------------------
  compile(source: string, name: string, options: string[]): CompileResult;
  loadModule(image: Buffer): KernelModule;
  getFunction(module: KernelModule, name: string): KernelFunction;
  setMaxDynamicShared(fn: KernelFunction, bytes: number): void;
  /**
   * Queues a kernel on the stream. `signature` has one letter per kernel parameter (p, i, l, f, t: see
   * LaunchArg); `graph`: replay the launch from a CUDA graph once the same launch repeats; `dependent`:
   * a programmatic dependent launch (sm_90+: the kernel may start before the previous one ends and waits
   * for it itself, PDL_WAIT in the kernel sources; elsewhere an ordinary launch; not with `graph`).
   * `table` 1 or 2: the arguments packed in order with natural alignment (p, l 8 bytes; i, f 4; no t) into
   * the kernel's one struct parameter (at most 4 KiB), as decode_phases takes them; 1 launches cooperatively
   * (every block resident at once, or an error), 2 as an ordinary launch.
   */
  launch(
    fn: KernelFunction, grid: Dim3, block: Dim3, sharedBytes: number, signature: string, args: LaunchArg[], graph?: boolean, dependent?: boolean,
    table?: 0 | 1 | 2,
  ): void;

  // ---- blaslt.cc: cublasLt GEMMs ------------------------------------------------------------------
  /** Row-major float GEMM, batched and strided; A, B and C are (region, byteOffset, byteLength) triples. */
  gemm(
    dtype: 'float16' | 'float32', transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: DeviceRegion, aOffset: number, aLength: number, lda: number, strideA: number,
    b: DeviceRegion, bOffset: number, bLength: number, ldb: number, strideB: number,
    c: DeviceRegion, cOffset: number, cLength: number, batch: number,
  ): void;
  /** C[m, n] (int32) = A[m, k] (int8) · B[n, k]ᵀ, all packed row-major. */
  igemm(
    a: DeviceRegion, aOffset: number, aLength: number, b: DeviceRegion, bOffset: number, bLength: number,
    c: DeviceRegion, cOffset: number, cLength: number, m: number, n: number, k: number, path?: IgemmPath,
  ): void;
  /** igemm's lean entry (path 'auto'; the lengths follow from m, n and k, and are still checked). */
  igemmFast(a: DeviceRegion, aOffset: number, b: DeviceRegion, bOffset: number, c: DeviceRegion, cOffset: number, m: number, n: number, k: number): void;

  // ---- step_graph.cc: a planned step as one CUDA graph ---------------------------------------------
  beginStepCapture(): void;
  /** The graph of the ops queued since beginStepCapture; `keep` false abandons the capture (returns undefined). */
  endStepCapture(keep: true): StepGraphHandle;
  endStepCapture(keep: false): undefined;
  /** Launches the graph; resolves on a worker thread when the GPU is done with it. */
  runStepGraph(step: StepGraphHandle): Promise<void>;
  disposeStepGraph(step: StepGraphHandle): void;
  isCapturing(): boolean;

  // ---- streaming.cc: pinned host memory and the copy stream, for streamed layers -------------------
  hostReserve(bytes: number): PinnedHostRegion;
  /** Waits for queued copies from it, then frees it (a no-op when already freed). */
  hostRelease(region: PinnedHostRegion): void;
  hostWrite(region: PinnedHostRegion, byteOffset: number, data: HostBytes): void;
  /** Waits for the stream, then fills `out`. */
  hostRead(region: PinnedHostRegion, byteOffset: number, out: HostBytes): void;
  /** Device bytes into pinned memory, after the queued work (waits). */
  hostFromDevice(region: PinnedHostRegion, byteOffset: number, src: DeviceRegion, srcOffset: number, byteLength: number): void;
  /** On the copy stream: waits for `after`, copies host to device, records `ready`. */
  streamIn(
    src: PinnedHostRegion, srcOffset: number, dst: DeviceRegion, dstOffset: number, byteLength: number, after: CudaEvent, ready: CudaEvent,
  ): void;
  /** The main stream waits for the event before its next work. */
  waitEvent(event: CudaEvent): void;
  /** An event without timing, for ordering the two streams. */
  fenceCreate(): CudaEvent;
  copyStreamSynchronize(): void;
  pinnedStats(): { bytes: number; regions: number };

  // ---- tensor_map.cc: TMA tensor maps for the Hopper GEMM -------------------------------------------
  tensorMap2d(region: DeviceRegion, byteOffset: number, rows: number, rowBytes: number, strideBytes: number, boxRows: number, boxBytes: number): TensorMap;

  /** Switches for benchmarks and tests only (native/src/cuda/bench.cc); nothing in the product calls them. */
  readonly bench: NativeCudaBench;
}

/**
 * The addon's benchmark switches, kept apart from what the product calls: how igemm issues its cublasLt
 * call, and whether igemm searches cublasLt's algorithms for skinny products. Each returns the previous setting.
 */
export interface NativeCudaBench {
  /** 2 (the product's): the call replayed from a CUDA graph; 0: cublasLtMatmul each call; 1: no GEMM at all (host cost only). */
  igemmMode(mode?: 0 | 1 | 2): 0 | 1 | 2;
  /** Turns the skinny-product algorithm search on or off and drops the plans made so far. */
  igemmSearch(on?: boolean): boolean;
}

/** Every function of NativeCuda, for checking a loaded addon against the interface. */
export const NATIVE_CUDA_FUNCTIONS = [
  'info', 'available',
  'reserve', 'release', 'memInfo', 'upload', 'download', 'copy', 'fill', 'synchronize', 'eventCreate', 'eventRecord', 'eventElapsed',
  'compile', 'loadModule', 'getFunction', 'setMaxDynamicShared', 'launch',
  'gemm', 'igemm', 'igemmFast',
  'beginStepCapture', 'endStepCapture', 'runStepGraph', 'disposeStepGraph', 'isCapturing',
  'hostReserve', 'hostRelease', 'hostWrite', 'hostRead', 'hostFromDevice', 'streamIn', 'waitEvent', 'fenceCreate', 'copyStreamSynchronize', 'pinnedStats',
  'tensorMap2d',
] as const satisfies readonly Exclude<keyof NativeCuda, 'bench'>[];
export const NATIVE_CUDA_BENCH_FUNCTIONS = ['igemmMode', 'igemmSearch'] as const satisfies readonly (keyof NativeCudaBench)[];

// The lists above name every function of the interfaces (a compile error here names a missing one).
type Missing<T, L extends readonly unknown[]> = Exclude<keyof T, L[number]>;
const everyFunctionListed: [Missing<Omit<NativeCuda, 'bench'>, typeof NATIVE_CUDA_FUNCTIONS>, Missing<NativeCudaBench, typeof NATIVE_CUDA_BENCH_FUNCTIONS>] extends [never, never] ? true : false = true;
void everyFunctionListed;
