// The CUDA backend: the Backend op set on one GPU. Memory comes from a device pool over one reservation;
// the ops are NVRTC-compiled kernels (packages/kernels/cuda/*.cu) and cublasLt GEMMs, all queued on the
// addon's one stream. Arguments are checked with @bminf/core's checks (the same words as the CPU
// backend); the addon checks again that every device span lies inside live memory. How an int8 product
// runs (GEMV, Hopper kernel, cublasLt) is decided in linear-route.ts and timed where needed by tuner.ts.
// This file holds the backend's memory, its launches and its planned steps, and the ops on memory (copy,
// cast, upload, …); the other ops are families of their own, each given this backend's context
// (ops-context.ts): int8-ops.ts (quantizeRows, igemm, dequantize), linear-int8-ops.ts (linearInt8),
// float-ops.ts (gemm, norms, GELU, add, mul), attention-ops.ts (softmax, attention, attendCache) and
// index-ops.ts (embedding, scatterRows, argmaxRows).
import {
  type AttendCacheOptions,
  type AttentionOptions,
  type Backend,
  type SoftmaxOptions,
  type StepGraph,
  type DType,
  Device,
  DisposedError,
  type HostArray,
  InvalidArgumentError,
  type Shape,
  ShapeMismatchError,
  Tensor,
  assertValidShape,
  checkAlive,
  checkContiguous,
  checkDType,
  checkDevice,
  type LinearInt8Options,
  checkSameDType,
  checkShape,
  dtypeOfArray,
  dtypeSize,
  formatBytes,
  hostArray,
  isDType,
  isFloatDType,
  numelOf,
  shapeToString,
  tidy,
} from '@bminf/core';
import { GrowingDevicePool, type GrowingPoolStats } from '@bminf/allocator';
import { CublasLt, ltStorageBytes } from '@bminf/cublaslt';
import {
  type DeviceRegion,
  type DeviceSpan,
  type IgemmPath,
  type KernelFunction,
  type LaunchArg,
  mapNativeError,
  type NativeCuda,
  type StepGraphHandle,
} from '@bminf/cuda-binding';
import { AttentionOps } from './attention-ops.js';
import { compileKernels, type CompiledModule } from './compiler.js';
import { ATTEND_SPLIT_MAX_PAIRS, DEFAULT_ROUTE_POLICY, type RoutePolicy } from './linear-route.js';
import { flushingNative, PhaseQueue } from './decode-phases.js';
import { FloatOps } from './float-ops.js';
import { IndexOps } from './index-ops.js';
import { Int8Ops } from './int8-ops.js';
import { LinearInt8Ops } from './linear-int8-ops.js';
import { type CudaOpsContext, type FloatDType, dims4, filled, gridFor, sfx } from './ops-context.js';
import { Sm90Gemm } from './sm90-gemm.js';
import { Tuner } from './tuner.js';
import type { CudaInfo } from './info.js';
import { CudaStorage } from './storage.js';
import { StepArena } from './step-arena.js';
import { CudaWeightStreaming } from './weight-streaming.js';

export interface CudaBackendOptions {
  /**
   * The most device memory tensors may take. It is reserved as it is needed, in segments (see
   * GrowingDevicePool), not at creation. Default: the free memory less a margin (10 % of it, at least
   * 2 GiB) left for cublasLt's workspace, the kernels and other processes.
   */
  memoryLimit?: number;
  /** igemm layout path ('auto' picks by compute capability). For testing the other path. */
  igemmPath?: IgemmPath;
  /**
   * igemm with at most this many rows in A (tokens) runs bminf's dp4a GEMV kernel instead of cublasLt
   * (when k % 16 == 0). Default and most 8; 0 always takes cublasLt.
   */
  gemvMaxRows?: number;
}

/** BMINF_POISON's fill byte: '1' is 0xff; a byte value (0x7f, 127) itself; null where unset or not a byte. */
export function poisonByte(v: string | undefined): number | null {
  if (v === undefined || v === '' || v === '0') return null;
  if (v === '1') return 0xff;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : null;
}

export class CudaBackend implements Backend {
  readonly name = 'cuda' as const;
  readonly device = new Device('cuda', 0);
  readonly pool: GrowingDevicePool<DeviceRegion>;
  readonly lt: CublasLt;
  readonly kernels: CompiledModule;
  private readonly fns = new Map<string, KernelFunction>();
  private readonly igemmPath: IgemmPath;
  private _disposed = false;
  /** Pinned host buffers and the copy stream, for layers streamed from host memory. */
  readonly streaming: CudaWeightStreaming;
  /** The arena of the step being captured (captureStep), where its tensors are made. */
  private arena: StepArena | null = null;
  /** The Hopper GEMM kernel (wgmma + TMA; sm_90 only, compiled on first use). */
  readonly sm90: Sm90Gemm;
  /**
   * What the int8 routes may take (linear-route.ts; the product's defaults there). Not part of the
   * Backend contract: tests and benchmarks change it to force a route.
   */
  readonly routes: RoutePolicy;
  /** Times kernels against each other once per shape and keeps the choices (tuner.ts). */
  readonly tuner: Tuner;

  /** The addon, every call first launching the queued decode phases (decode-phases.ts). */
  private readonly native: NativeCuda;
  /** RoutePolicy.decodePhases' queue, and its grid barrier's word (low bits zero between launches; phases.cu). */
  private readonly phases: PhaseQueue;
  private readonly phaseBarrier: CudaStorage;
  /** The op families (each op of the Backend contract below is a call of one), given this backend's context (ops-context.ts). */
  private readonly int8Ops: Int8Ops;
  private readonly linearOps: LinearInt8Ops;
  private readonly floatOps: FloatOps;
  private readonly indexOps: IndexOps;
  private readonly attentionOps: AttentionOps;

  constructor(
    native: NativeCuda,
    readonly info: CudaInfo,
    options: CudaBackendOptions = {},
  ) {
    this.phases = new PhaseQueue(native, (b) => this.fn(`decode_phases_b${b}`), () => this.phaseBarrier.span(0, 4), info.multiprocessors ?? 132, () => this.routes.decodePhasesCooperative);
    native = this.native = flushingNative(native, () => this.phases.flush());
    const cc = info.computeCapability ?? [0, 0];
    this.kernels = compileKernels(native, cc[0], cc[1], info.nvrtcVersion ?? [0, 0]);
    this.lt = new CublasLt(native);
    this.sm90 = new Sm90Gemm(native, cc, info.nvrtcVersion ?? [0, 0], info.multiprocessors ?? 132, (t) => this.span(t));
    this.igemmPath = options.igemmPath ?? 'auto';
    this.routes = { ...DEFAULT_ROUTE_POLICY, gemvMaxRows: Math.min(8, options.gemvMaxRows ?? DEFAULT_ROUTE_POLICY.gemvMaxRows) };
    this.tuner = new Tuner(native, (bytes) => this.scratch(bytes), () => this.capturing);
    const mem = native.memInfo();
    const limit = options.memoryLimit ?? Math.max(0, mem.free - Math.max(2 * 2 ** 30, Math.floor(mem.free * 0.1)));
    if (!Number.isSafeInteger(limit) || limit < 4096) {
      throw new InvalidArgumentError(`The CUDA backend's memoryLimit must be an integer of at least 4096 bytes, but is ${limit}.`, {
        hint: `${formatBytes(mem.free)} of device memory is free.`,
      });
    }
    this.pool = new GrowingDevicePool<DeviceRegion>({
      limit,
      name: 'cuda:0',
      release: (region) => native.release(region),
      reserve: (bytes) => {
        try {
          return native.reserve(bytes);
        } catch (e) {
          const free = native.memInfo().free;
          throw mapNativeError(e, `reserving ${formatBytes(bytes)} more device memory (${formatBytes(this.pool.reserved)} reserved, ${formatBytes(free)} free on the GPU)`);
        }
      },
    });
    this.streaming = new CudaWeightStreaming(native, (t) => this.span(t), () => this.capturing);
    const cx = CudaBackend.opsContext(this);
    this.int8Ops = new Int8Ops(cx);
    this.linearOps = new LinearInt8Ops(cx);
    this.floatOps = new FloatOps(cx);
    this.indexOps = new IndexOps(cx, this.alloc(256));
    this.attentionOps = new AttentionOps(cx, this.allocMain(4 * ATTEND_SPLIT_MAX_PAIRS));
    this.phaseBarrier = this.allocMain(4);
    const bar = this.phaseBarrier.span(0, 4);
    native.fill(bar.region, bar.byteOffset, bar.byteLength, 0);
  }

  /**
   * The context the op families are given. What the constructor has set for good is passed as it is; the
   * addon (which a benchmark swaps: packages/kernels/dev/cuda/bench-variants.mjs), disposal and a capture
   * are read at each use.
   */
  private static opsContext(b: CudaBackend): CudaOpsContext {
    const { info, lt, sm90, routes, tuner, phases, igemmPath } = b;
    return {
      backend: b, info, lt, sm90, routes, tuner, phases, igemmPath,
      get native() {
        return b.native;
      },
      get disposed() {
        return b._disposed;
      },
      get capturing() {
        return b.capturing;
      },
      check: (op, ...ts) => b.check(op, ...ts),
      alloc: (bytes) => b.alloc(bytes),
      make: (shape, dtype) => b.make(shape, dtype),
      makeLt: (shape, dtype) => b.makeLt(shape, dtype),
      span: (t) => b.span(t),
      flat: (ts) => b.flat(ts),
      fn: (name) => b.fn(name),
      launch: (name, grid, block, sig, args, graph) => b.launch(name, grid, block, sig, args, graph),
      packed: (x) => b.packed(x),
    };
  }

  // ---- plumbing ---------------------------------------------------------------------------------
  private live(): void {
    if (this._disposed) throw new DisposedError('The CUDA backend');
  }

  private alloc(bytes: number): CudaStorage {
    if (this.arena) {
      const a = this.arena.allocate(bytes);
      return this.poisoned(new CudaStorage(this.device, this, a.region, a.base, bytes, a.free));
    }
    return this.allocMain(bytes);
  }

  /** A block of the pool, outside any step's arena. */
  private allocMain(bytes: number): CudaStorage {
    const at = this.pool.allocate(bytes);
    return this.poisoned(new CudaStorage(this.device, this, at.region, at.block.offset, bytes, () => this.pool.free(at)));
  }

  /**
   * BMINF_POISON=1: every block handed out is first filled with 0xff bytes (NaN as float16 and float32,
   * -1 as int32), in stream order (inside a captured step, on every replay), as HostPool does on the CPU:
   * a kernel or a plan that reads memory nobody wrote then fails the same way on every run, instead of
   * reading zeros on a fresh GPU and whatever another process left there on a used one.
   * BMINF_POISON=0x7f (any byte, 0x.. or decimal) fills with that byte instead: 0x7f makes every int32 a
   * large positive index (0xff's -1 is one that kernels skip), and float32 a finite 3.4e38.
   */
  private readonly poison = poisonByte(process.env.BMINF_POISON);
  private poisoned(s: CudaStorage): CudaStorage {
    if (this.poison !== null && s.byteLength > 0) this.native.fill(s.region, s.base, s.byteLength, this.poison);
    return s;
  }

  private make(shape: Shape, dtype: DType): Tensor {
    return new Tensor({ storage: this.alloc(numelOf(shape) * dtypeSize(dtype)), dtype, shape });
  }

  /**
   * A [rows, cols] tensor whose storage runs on for ltSlackBytes: for the activations and products that
   * go to cublasLt's int8 kernels, which read (and may write) whole tiles past the last row.
   */
  private makeLt(shape: readonly [number, number], dtype: DType): Tensor {
    const rowBytes = shape[1] * dtypeSize(dtype);
    return new Tensor({ storage: this.alloc(ltStorageBytes(shape[0], rowBytes)), dtype, shape: [shape[0], shape[1]] });
  }

  /** The bytes a view can touch, from its first element to its last. */
  span(t: Tensor): DeviceSpan {
    const s = t.storage as CudaStorage;
    return s.span(t.byteOffset, t.numel === 0 ? 0 : t.lastByte() - t.byteOffset);
  }

  /** Device scratch of `bytes` for the tuner, or null where the pool has no room (tuning must not make an op fail). */
  private scratch(bytes: number): { span: DeviceSpan; dispose(): void } | null {
    let t: Tensor;
    try {
      t = this.make([bytes], 'int8');
    } catch {
      return null;
    }
    return { span: this.span(t), dispose: () => t.dispose() };
  }

  private fn(name: string): KernelFunction {
    let f = this.fns.get(name);
    if (!f) {
      f = this.native.getFunction(this.kernels.module, name);
      this.fns.set(name, f);
    }
    return f;
  }

  /** Queues a kernel; spans are given as tensors (their whole extent) or DeviceSpans. */
  /** graph: replay from a CUDA graph once the same launch repeats (the addon's launch graphs). */
  private launch(name: string, grid: number, block: number, sig: string, args: (Tensor | DeviceSpan | number)[], graph = false): void {
    const flat: LaunchArg[] = [];
    for (const a of args) {
      if (typeof a === 'number') flat.push(a);
      else {
        const s = a instanceof Tensor ? this.span(a) : a;
        flat.push(s.region, s.byteOffset, s.byteLength);
      }
    }
    try {
      this.native.launch(this.fn(name), [grid, 1, 1], [block, 1, 1], 0, sig, flat, graph, !graph && this.routes.dependentLaunch);
    } catch (e) {
      throw mapNativeError(e, name);
    }
  }

  /** A tensor's span as launch() takes it: region, byteOffset, byteLength. */
  private flat(ts: Tensor[]): LaunchArg[] {
    return ts.flatMap((t) => {
      const s = this.span(t);
      return [s.region, s.byteOffset, s.byteLength];
    });
  }

  /** x when it is packed, else a packed copy (the caller disposes what it did not pass in). */
  private packed(x: Tensor): Tensor {
    return x.isContiguous() ? x : this.contiguous(x);
  }

  private check(op: string, ...ts: (Tensor | null | undefined)[]): void {
    this.live();
    checkAlive(op, ...ts);
    checkDevice(op, this.device, ...ts);
  }

  /** The pool's counts: bytes in use, reserved from the driver, and the limit. */
  memoryStats(): GrowingPoolStats {
    return this.pool.stats();
  }

  /**
   * Sets the most device memory this backend's tensors may take (it cannot go below what is reserved
   * already). A model loaded with a memory limit sets it before its weights go up.
   */
  setMemoryLimit(bytes: number): void {
    this.pool.setLimit(bytes);
  }

  // ---- memory -----------------------------------------------------------------------------------
  empty(shape: Shape, dtype: DType): Tensor {
    this.live();
    assertValidShape(shape);
    if (!isDType(dtype)) throw new InvalidArgumentError(`empty: unknown dtype "${String(dtype)}".`, { hint: 'Use int8, int32, float16 or float32.' });
    return this.make(shape, dtype);
  }

  zeros(shape: Shape, dtype: DType): Tensor {
    const t = this.empty(shape, dtype);
    const s = this.span(t);
    if (s.byteLength) this.native.fill(s.region, s.byteOffset, s.byteLength, 0);
    return t;
  }

  upload(data: HostArray, shape: Shape): Tensor {
    this.live();
    if (this.capturing) throw new InvalidArgumentError('upload: a step being captured cannot copy from the host; make its tensors before capturing.');
    assertValidShape(shape);
    if (!(data instanceof Int8Array || data instanceof Int32Array || data instanceof Uint16Array || data instanceof Float32Array)) {
      throw new InvalidArgumentError(
        `upload: data must be an Int8Array, Int32Array, Uint16Array (float16 bits) or Float32Array, not ${(data as object)?.constructor?.name ?? typeof data}.`,
      );
    }
    const dtype = dtypeOfArray(data);
    if (numelOf(shape) !== data.length) {
      throw new ShapeMismatchError(`upload: ${data.length} elements cannot fill shape ${shapeToString(shape)} (${numelOf(shape)} elements).`);
    }
    return filled(this.make(shape, dtype), (t) => {
      const s = this.span(t);
      if (s.byteLength) this.native.upload(s.region, s.byteOffset, s.byteLength, data);
    }, 'upload');
  }

  download(t: Tensor): HostArray {
    this.check('download', t);
    if (this.capturing) throw new InvalidArgumentError('download: a step being captured cannot read back to the host; read its outputs after run().');
    const p = this.packed(t);
    const out = hostArray(t.dtype, new ArrayBuffer(t.byteLength), 0, t.numel);
    const s = this.span(p);
    try {
      if (s.byteLength) this.native.download(s.region, s.byteOffset, s.byteLength, out);
    } catch (e) {
      throw mapNativeError(e, 'download');
    } finally {
      if (p !== t) p.dispose();
    }
    return out;
  }

  copy(src: Tensor, dst: Tensor): void {
    this.check('copy', src, dst);
    checkSameDType('copy', src, dst);
    checkShape('copy', src, dst.shape, 'the source');
    if (src.numel === 0) return;
    const a = dims4(src, 'copy');
    const b = dims4(dst, 'copy');
    this.launch(`copy_b${dtypeSize(src.dtype) * 8}`, gridFor(src.numel), 256, 'pplii' + 'i' + 'llll' + 'llll', [
      src, dst, src.numel, a.n[1], a.n[2], a.n[3], ...a.s, ...b.s,
    ]);
  }

  contiguous(x: Tensor): Tensor {
    this.check('contiguous', x);
    if (x.isContiguous()) return new Tensor({ storage: x.storage, dtype: x.dtype, shape: x.shape, offset: x.offset });
    const out = this.make(x.shape, x.dtype);
    this.copy(x, out);
    return out;
  }

  cast(x: Tensor, dtype: FloatDType): Tensor {
    this.check('cast', x);
    checkDType('cast', x, 'float16', 'float32');
    if (dtype !== 'float16' && dtype !== 'float32') throw new InvalidArgumentError(`cast: the target dtype must be float16 or float32, not ${String(dtype)}.`);
    const out = this.make(x.shape, dtype);
    if (x.numel === 0) return out;
    if (dtype === x.dtype) {
      this.copy(x, out);
      return out;
    }
    const a = dims4(x, 'cast');
    this.launch(`cast_${sfx(x.dtype)}_${sfx(dtype)}`, gridFor(x.numel), 256, 'ppliiillll', [x, out, x.numel, a.n[1], a.n[2], a.n[3], ...a.s]);
    return out;
  }

  synchronize(): void {
    this.live();
    try {
      this.native.synchronize();
    } catch (e) {
      throw mapNativeError(e, 'synchronize');
    }
  }

  // ---- quantization and integer GEMM (int8-ops.ts) -------------------------------------------------
  quantizeRows(x: Tensor): { values: Tensor; scales: Tensor } {
    return this.int8Ops.quantizeRows(x);
  }

  /** quantizeRows into tensors the caller owns (packed int8 [rows, cols] and float16 [rows]). */
  quantizeRowsInto(x: Tensor, values: Tensor, scales: Tensor): void {
    this.int8Ops.quantizeRowsInto(x, values, scales);
  }

  igemm(a: Tensor, b: Tensor): Tensor {
    return this.int8Ops.igemm(a, b);
  }

  /**
   * igemm into a tensor the caller owns (packed int32 [m, n]): no allocation per call, as PyTorch's
   * `torch._int_mm(a, b, out=c)`. Not part of the Backend contract.
   */
  igemmInto(a: Tensor, b: Tensor, out: Tensor): void {
    this.int8Ops.igemmInto(a, b, out);
  }

  dequantize(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: FloatDType; bias?: Tensor }): Tensor {
    return this.int8Ops.dequantize(acc, rowScale, colScale, options);
  }

  // ---- the int8 linear layer (linear-int8-ops.ts) ---------------------------------------------------
  linearInt8(x: Tensor, weight: Tensor, weightScale: Tensor, options: LinearInt8Options): Tensor {
    return this.linearOps.linearInt8(x, weight, weightScale, options);
  }

  // ---- float ops (float-ops.ts, attention-ops.ts) ----------------------------------------------------
  gemm(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Tensor {
    return this.floatOps.gemm(a, b, options);
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): Tensor {
    return this.floatOps.layerNorm(x, weight, bias, options);
  }

  /** quantizeRows(layerNorm(x, weight, bias, options)), in one kernel where it can (float-ops.ts). */
  normQuantizeRows(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): { values: Tensor; scales: Tensor } {
    return this.floatOps.normQuantizeRows(x, weight, bias, options);
  }

  gelu(x: Tensor): Tensor {
    return this.floatOps.gelu(x);
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.floatOps.add(a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.floatOps.mul(a, b);
  }

  softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
    return this.attentionOps.softmax(x, options);
  }

  attention(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor {
    return this.attentionOps.attention(q, keys, values, options);
  }

  // ---- rows and indices (index-ops.ts) --------------------------------------------------------------
  embedding(ids: Tensor, table: Tensor): Tensor {
    return this.indexOps.embedding(ids, table);
  }

  argmaxRows(x: Tensor, options: { exclude?: number } = {}): Tensor {
    return this.indexOps.argmaxRows(x, options);
  }

  /**
   * Fills a packed int8 or float16 tensor with random bits on the GPU (benchmark weights; see
   * random_i8/random_f16 in elementwise.cu): int8 uniform in [-127, 127]; float16 with a random sign
   * and mantissa and the exponent of `magnitude`. Not part of the Backend contract.
   */
  fillRandom(t: Tensor, seed: number, magnitude = 1): void {
    this.check('fillRandom', t);
    checkDType('fillRandom', t, 'int8', 'float16');
    checkContiguous('fillRandom', t, 't');
    if (t.numel === 0) return;
    const grid = Math.min(gridFor(t.numel), 65536);
    if (t.dtype === 'int8') this.launch('random_i8', grid, 256, 'pli', [t, t.numel, seed & 0x7fffffff]);
    else {
      const exp = Math.max(1, Math.min(30, Math.floor(Math.log2(magnitude)) + 15)) << 10;
      this.launch('random_f16', grid, 256, 'plii', [t, t.numel, seed & 0x7fffffff, exp]);
    }
  }

  /** Raw access for benchmarks: the addon's CUDA bindings. */
  get nativeCuda(): NativeCuda {
    return this.native;
  }

  // ---- planned steps (see Backend) -----------------------------------------------------------------
  /** True while captureStep records a step: no host reads, no tuning, no launch graphs. */
  private capturing = false;

  write(dst: Tensor, data: HostArray): void {
    this.check('write', dst);
    checkContiguous('write', dst, 'dst');
    if (this.capturing) throw new InvalidArgumentError('write: a step being captured cannot copy from the host; write its inputs before run().');
    if (!(data instanceof Int8Array || data instanceof Int32Array || data instanceof Uint16Array || data instanceof Float32Array) || dtypeOfArray(data) !== dst.dtype) {
      throw new InvalidArgumentError(`write: the data must be a typed array of the tensor's dtype (${dst.dtype}).`);
    }
    if (data.length !== dst.numel) throw new ShapeMismatchError(`write: ${data.length} elements cannot fill a tensor of ${dst.numel}.`);
    const s = this.span(dst);
    if (!s.byteLength) return;
    try {
      this.native.upload(s.region, s.byteOffset, s.byteLength, data);
    } catch (e) {
      throw mapNativeError(e, 'write');
    }
  }

  scatterRows(src: Tensor, dst: Tensor, index: Tensor): void {
    this.indexOps.scatterRows(src, dst, index);
  }

  attendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): Tensor {
    return this.attentionOps.attendCache(q, keys, values, lengths, options);
  }

  /**
   * Runs fn once as usual (kernels compiled, shapes tuned and planned, with the step's current inputs:
   * a step must be safe to run twice), then again under stream capture into one CUDA graph, whose
   * tensors the StepGraph keeps alive. run() launches the graph and resolves when it is done, waiting
   * on a worker thread.
   */
  captureStep(fn: () => void): StepGraph {
    this.live();
    if (this.capturing) throw new InvalidArgumentError('captureStep: a step is already being captured.');
    // Two eager runs first: one tunes what the step will use (its timing scratch must not count), the
    // second measures the step's own peak of live bytes, the size of its arena.
    tidy(fn);
    // What tuning took (its timing scratch) goes back to the driver: planning is not on the hot path.
    this.pool.releaseEmpty();
    const before = this.pool.resetPeak();
    tidy(fn);
    const peak = this.pool.stats().peakBytesInUse - before;
    let handle: StepGraphHandle | undefined;
    // Every tensor made while the step is captured comes from its own arena, which the graph keeps.
    const arena = new StepArena((bytes) => this.allocMain(bytes), peak);
    try {
      this.native.beginStepCapture();
    } catch (e) {
      arena.retire();
      throw mapNativeError(e, 'captureStep');
    }
    this.capturing = true;
    this.arena = arena;
    try {
      tidy(fn);
    } catch (e) {
      this.capturing = false;
      this.arena = null;
      this.native.endStepCapture(false);
      arena.retire();
      throw e;
    }
    this.capturing = false;
    this.arena = null;
    try {
      handle = this.native.endStepCapture(true);
    } catch (e) {
      arena.retire();
      throw mapNativeError(e, 'captureStep');
    }
    const native = this.native;
    const step = handle;
    if (!step) throw new InvalidArgumentError('captureStep: the addon returned no graph for the captured step.');
    let disposed = false;
    return {
      run: async () => {
        if (disposed) throw new DisposedError('A captured step');
        try {
          await native.runStepGraph(step);
        } catch (e) {
          throw mapNativeError(e, 'a captured step');
        }
      },
      get disposed() {
        return disposed;
      },
      dispose: () => {
        if (disposed) return;
        disposed = true;
        native.disposeStepGraph(step);
        arena.retire();
      },
    };
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    try {
      this.native.synchronize();
    } finally {
      for (const r of this.pool.regions()) this.native.release(r);
    }
  }

  get disposed(): boolean {
    return this._disposed;
  }
}

export { isFloatDType };
