// The CUDA backend: the Backend op set on one GPU. Memory comes from a device pool over one reservation;
// the ops are NVRTC-compiled kernels (packages/kernels/cuda/*.cu) and cublasLt GEMMs, all queued on the
// addon's one stream. Arguments are checked here with @bminf/core's checks (the same words as the CPU
// backend); the addon checks again that every device span lies inside live memory. How an int8 product
// runs (GEMV, Hopper kernel, cublasLt) is decided in linear-route.ts and timed where needed by tuner.ts;
// this file checks arguments and launches what they chose.
import {
  type AttendCacheOptions,
  type AttentionOptions,
  type Backend,
  type ScoreBias,
  type SoftmaxOptions,
  checkScoreBias,
  attentionByParts,
  checkAttention,
  type StepGraph,
  type DType,
  Device,
  DisposedError,
  type HostArray,
  InvalidArgumentError,
  type Shape,
  ShapeMismatchError,
  Tensor,
  UnsupportedError,
  assertValidShape,
  checkAlive,
  checkBroadcastSuffix,
  checkContiguous,
  checkDType,
  checkDevice,
  argmaxExclude,
  checkAppend,
  type LinearInt8Options,
  checkRank,
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
import { CublasLt, igemmShapeProblem, ltStorageBytes, paddedRows } from '@bminf/cublaslt';
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
import { attentionRoute } from './attention-route.js';
import { compileKernels, type CompiledModule } from './compiler.js';
import {
  ATTEND_SPLIT_MAX_PAIRS, DEFAULT_ROUTE_POLICY, attendCacheSplits, IGEMM_TIMED_CANDIDATES, type RoutePolicy, type GemvLinearConfig, gemvLinearConfigs, gemvRows, linearGemvSplit, igemmRoute, linearCall, type LinearPlan, LINEAR_MMA_WARPS, LINEAR_MMA_Q, linearMmaQGroups, linearMmaQShared, linearMmaShared, linearRoute,
} from './linear-route.js';
import { flushingNative, PHASE_ATTEND, PHASE_LINEAR_FORMS, PHASE_MAX_SHARED, PhaseQueue } from './decode-phases.js';
import { ROW_VEC_MAX_COLS, rowVecLaunch } from './row-vec.js';
import { SM90_TILES, Sm90Gemm, type Sm90Tile } from './sm90-gemm.js';
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

type FloatDType = 'float16' | 'float32';

/** Disposes the packed copies among `used` (those that are not the caller's own `given` tensors). */
function disposeCopies(used: readonly (Tensor | null | undefined)[], given: readonly (Tensor | null | undefined)[]): void {
  used.forEach((t, i) => {
    if (t && t !== given[i]) t.dispose();
  });
}
const sfx = (d: DType): string => (d === 'float16' ? 'f16' : 'f32');
const up32 = (n: number): number => Math.max(32, Math.min(1024, Math.ceil(n / 32) * 32));

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
  private readonly flag: CudaStorage; // 256 bytes for kernels that report bad input (embedding ids)
  private readonly attendCounters: CudaStorage;
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
    this.flag = this.alloc(256);
    // The split attention's per-pair counters: zero between launches (the last block of a pair resets its own).
    this.attendCounters = this.allocMain(4 * ATTEND_SPLIT_MAX_PAIRS);
    const c = this.attendCounters.span(0, 4 * ATTEND_SPLIT_MAX_PAIRS);
    native.fill(c.region, c.byteOffset, c.byteLength, 0);
    this.phaseBarrier = this.allocMain(4);
    const bar = this.phaseBarrier.span(0, 4);
    native.fill(bar.region, bar.byteOffset, bar.byteLength, 0);
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

  /** Whether t's storage runs on past its `rows` rows of `rowBytes` for cublasLt's whole tiles. */
  private ltSlackOk(t: Tensor, rows: number, rowBytes: number): boolean {
    return (t.storage as CudaStorage).byteLength - t.byteOffset >= ltStorageBytes(rows, rowBytes);
  }

  /** The bytes a view can touch, from its first element to its last. */
  span(t: Tensor): DeviceSpan {
    const s = t.storage as CudaStorage;
    return s.span(t.byteOffset, t.numel === 0 ? 0 : t.lastByte() - t.byteOffset);
  }

  /** The tensor's first byte is 16-byte aligned in device memory (what the vector kernels need). */
  private readonly aligned16 = (t: Tensor): boolean => ((t.storage as CudaStorage).base + t.byteOffset) % 16 === 0;

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

  /** x when it is packed, else a packed copy (the caller disposes what it did not pass in). */
  private packed(x: Tensor): Tensor {
    return x.isContiguous() ? x : this.contiguous(x);
  }

  private static gridFor(total: number, threads = 256): number {
    return Math.max(1, Math.min(Math.ceil(total / threads), 2 ** 31 - 1));
  }

  private check(op: string, ...ts: (Tensor | null | undefined)[]): void {
    this.live();
    checkAlive(op, ...ts);
    checkDevice(op, this.device, ...ts);
  }

  /** Shape and strides padded to rank 4 with leading 1s (strides 0), for the strided kernels. */
  private static dims4(t: Tensor, op: string): { n: number[]; s: number[] } {
    if (t.rank > 4) throw new UnsupportedError(`${op}: tensors of rank ${t.rank} are not supported (at most 4).`, { hint: 'Reshape it first.' });
    const pad = 4 - t.rank;
    return { n: [...Array(pad).fill(1), ...t.shape], s: [...Array(pad).fill(0), ...t.strides] };
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
    const t = this.make(shape, dtype);
    const s = this.span(t);
    if (s.byteLength) {
      try {
        this.native.upload(s.region, s.byteOffset, s.byteLength, data);
      } catch (e) {
        t.dispose();
        throw mapNativeError(e, 'upload');
      }
    }
    return t;
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
    const a = CudaBackend.dims4(src, 'copy');
    const b = CudaBackend.dims4(dst, 'copy');
    this.launch(`copy_b${dtypeSize(src.dtype) * 8}`, CudaBackend.gridFor(src.numel), 256, 'pplii' + 'i' + 'llll' + 'llll', [
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
    const a = CudaBackend.dims4(x, 'cast');
    this.launch(`cast_${sfx(x.dtype)}_${sfx(dtype)}`, CudaBackend.gridFor(x.numel), 256, 'ppliiillll', [x, out, x.numel, a.n[1], a.n[2], a.n[3], ...a.s]);
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

  // ---- quantization and integer GEMM ------------------------------------------------------------
  quantizeRows(x: Tensor): { values: Tensor; scales: Tensor } {
    this.check('quantizeRows', x);
    checkDType('quantizeRows', x, 'float16', 'float32');
    checkRank('quantizeRows', x, 2);
    const [rows, cols] = x.shape;
    const values = this.makeLt([rows, cols], 'int8');
    const scales = this.make([rows], 'float16');
    this.quantizeRowsInto(x, values, scales);
    return { values, scales };
  }

  /** quantizeRows into tensors the caller owns (packed int8 [rows, cols] and float16 [rows]). */
  quantizeRowsInto(x: Tensor, values: Tensor, scales: Tensor): void {
    this.check('quantizeRows', x, values, scales);
    checkDType('quantizeRows', x, 'float16', 'float32');
    checkRank('quantizeRows', x, 2);
    const [rows, cols] = x.shape;
    checkDType('quantizeRows', values, 'int8');
    checkDType('quantizeRows', scales, 'float16');
    checkShape('quantizeRows', values, [rows, cols], 'values');
    checkShape('quantizeRows', scales, [rows], 'scales');
    checkContiguous('quantizeRows', values, 'values');
    checkContiguous('quantizeRows', scales, 'scales');
    if (rows === 0) return;
    const xp = this.packed(x);
    try {
      const xs = this.span(xp);
      const fast = x.dtype === 'float16' && cols > 0 && cols % 8 === 0 && xs.byteOffset % 16 === 0 && this.span(values).byteOffset % 8 === 0;
      if (fast && cols <= ROW_VEC_MAX_COLS) {
        // The row in registers (rowVecLaunch). The measured alternatives (exact division everywhere, a
        // pipelined persistent grid) are in packages/kernels/dev/cuda/ with their history in NOTES.md.
        const { items, threads } = rowVecLaunch(cols);
        this.launch(`quantize_f16_fast${items}`, rows, threads, 'pppii', [xp, values, scales, rows, cols]);
      } else {
        this.launch(`quantize_${sfx(x.dtype)}`, rows, Math.min(256, up32(cols)), 'pppii', [xp, values, scales, rows, cols]);
      }
    } finally {
      if (xp !== x) xp.dispose();
    }
  }

  igemm(a: Tensor, b: Tensor): Tensor {
    if (this.igemmDirectOk(a, b)) {
      const out = this.makeLt([a.shape[0], b.shape[0]], 'int32');
      try {
        this.igemmRouted(a, b, out, true, false);
      } catch (e) {
        out.dispose();
        throw e;
      }
      return out;
    }
    const [m, n] = this.igemmCheck('igemm', a, b);
    // cublasLt may compute into padded rows (see igemmPadded): the output has room for them.
    const storage = this.alloc(ltStorageBytes(paddedRows(m), n * 4));
    const out = new Tensor({ storage, dtype: 'int32', shape: [m, n] });
    try {
      this.igemmRouted(a, b, out, false, true);
    } catch (e) {
      out.dispose();
      throw e;
    }
    return out;
  }

  /**
   * igemm into a tensor the caller owns (packed int32 [m, n]): no allocation per call, as PyTorch's
   * `torch._int_mm(a, b, out=c)`. Not part of the Backend contract.
   */
  igemmInto(a: Tensor, b: Tensor, out: Tensor): void {
    if (this.igemmDirectOk(a, b) && this.igemmDirectOutOk(out, a.shape[0], b.shape[0])) {
      this.igemmRouted(a, b, out, true, false);
      return;
    }
    const [m, n] = this.igemmCheck('igemm', a, b);
    this.check('igemm', out);
    checkDType('igemm', out, 'int32');
    checkShape('igemm', out, [m, n], 'out');
    checkContiguous('igemm', out, 'out');
    this.igemmRouted(a, b, out, false, false);
  }

  /**
   * C = A·Bᵀ into out ([m, n], checked) by the route igemmRoute picks. `direct`: igemmDirectOk (and, for
   * a caller's out, igemmDirectOutOk) accepted the operands; `padded`: out's storage has room for
   * paddedRows(m) rows.
   */
  private igemmRouted(a: Tensor, b: Tensor, out: Tensor, direct: boolean, padded: boolean): void {
    const [m, k] = a.shape;
    const n = b.shape[0];
    if (m === 0 || n === 0) return;
    const call = { m, k, direct, operands16: this.aligned16(a) && this.aligned16(b), out16: this.aligned16(out) };
    switch (igemmRoute(call, this.routes, () => this.hopperFits(a, b))) {
      case 'gemv':
        // A few us of GPU work, so the host's time to launch it counts: replayed from a graph where the
        // same call repeats.
        this.launch(`igemv_r${gemvRows(m)}`, n / 4, 256, 'pppiii', [a, b, out, m, n, k], true);
        return;
      case 'cublaslt':
        this.igemmDirect(a, b, out);
        return;
      case 'sm90':
        this.sm90.igemm(a, b, out, this.sm90.tileFor(m, n));
        return;
      case 'timed': {
        // Every candidate computes the same exact int32 sums, so the timing runs write into out.
        const run = (c: (typeof IGEMM_TIMED_CANDIDATES)[number]) => (c === 'cublaslt' ? this.igemmDirect(a, b, out) : this.sm90.igemm(a, b, out, c));
        run(this.tuner.igemmKernel(m, n, k, IGEMM_TIMED_CANDIDATES, run));
        return;
      }
      case 'cublaslt-padded':
        this.igemmPadded(a, b, out, m, n, k, padded);
        return;
    }
  }

  /** Whether the Hopper kernel runs here and fits x [T, K] and w [M, K] (compiles it on first use). */
  private hopperFits(x: Tensor, w: Tensor): boolean {
    return !this.sm90.unavailable && this.sm90.fits(x, w) && this.sm90.ready();
  }

  // ---- igemm's direct path --------------------------------------------------------------------------
  // A linear layer's igemm in its common case, recognised in a few comparisons: live packed operands of
  // this backend's memory, m, n and k multiples of 4, 4-byte aligned, and more rows than the GEMV takes
  // (those are routed after the full checks, as the GEMV needs other alignment). It goes straight to
  // the addon (which checks the spans again) or to the Hopper kernel. Anything else takes the full
  // checks below, which name what is wrong. Measured on the H100 VM: the generic checks, spans and
  // padding logic cost ~2-4 us of host time per call, where a whole call with 16-64 rows is ~10 us.
  private igemmDirectOk(a: Tensor, b: Tensor): boolean {
    const sa = a.storage;
    const sb = b.storage;
    if (this._disposed || !(sa instanceof CudaStorage) || !(sb instanceof CudaStorage) || sa.owner !== this || sb.owner !== this) return false;
    if (a.dtype !== 'int8' || b.dtype !== 'int8' || a.rank !== 2 || b.rank !== 2 || a.disposed || b.disposed) return false;
    const m = a.shape[0];
    const k = a.shape[1];
    const n = b.shape[0];
    if (b.shape[1] !== k || m <= this.routes.gemvMaxRows || m % 4 !== 0 || n % 4 !== 0 || k % 4 !== 0 || n === 0 || k === 0) return false;
    return a.isContiguous() && b.isContiguous() && (sa.base + a.byteOffset) % 4 === 0 && (sb.base + b.byteOffset) % 4 === 0;
  }

  private igemmDirectOutOk(out: Tensor, m: number, n: number): boolean {
    const so = out.storage;
    if (!(so instanceof CudaStorage) || so.owner !== this || out.dtype !== 'int32' || out.rank !== 2 || out.disposed) return false;
    return out.shape[0] === m && out.shape[1] === n && out.isContiguous() && (so.base + out.byteOffset) % 4 === 0;
  }

  /**
   * C = A·Bᵀ on cublasLt, for operands igemmDirectOk and igemmDirectOutOk accepted. A and C must run on
   * for ltSlackBytes (cublasLt's int8 kernels take whole tiles of rows: one faulted reading or writing
   * past a 32-row product placed near the end of its memory, NOTES.md); this backend's quantize and igemm
   * allocate them so, and operands from elsewhere go through a copy that has it.
   */
  private igemmDirect(a: Tensor, b: Tensor, out: Tensor): void {
    const m = a.shape[0];
    const k = a.shape[1];
    const n = b.shape[0];
    if (!this.ltSlackOk(a, m, k)) {
      const ap = this.makeLt([m, k], 'int8');
      try {
        this.copy(a, ap);
        this.igemmDirect(ap, b, out);
      } finally {
        ap.dispose();
      }
      return;
    }
    if (!this.ltSlackOk(out, m, n * 4)) {
      const op = this.makeLt([m, n], 'int32');
      try {
        this.igemmDirect(a, b, op);
        this.copy(op, out);
      } finally {
        op.dispose();
      }
      return;
    }
    const sa = a.storage as CudaStorage;
    const sb = b.storage as CudaStorage;
    const sc = out.storage as CudaStorage;
    const oa = sa.base + a.byteOffset;
    const ob = sb.base + b.byteOffset;
    const oc = sc.base + out.byteOffset;
    try {
      // igemmFast: the addon's lean entry (lengths implied by m, n, k; path 'auto'), ~9 values to read.
      if (this.igemmPath === 'auto') this.native.igemmFast(sa.region, oa, sb.region, ob, sc.region, oc, m, n, k);
      else this.native.igemm(sa.region, oa, m * k, sb.region, ob, n * k, sc.region, oc, m * n * 4, m, n, k, this.igemmPath);
    } catch (e) {
      throw mapNativeError(e, 'igemm');
    }
  }

  private igemmCheck(op: string, a: Tensor, b: Tensor): [number, number, number] {
    this.check(op, a, b);
    checkDType(op, a, 'int8');
    checkDType(op, b, 'int8');
    checkRank(op, a, 2);
    checkRank(op, b, 2);
    checkContiguous(op, a, 'A');
    checkContiguous(op, b, 'B');
    const [m, k] = a.shape;
    const [n, kb] = b.shape;
    if (k !== kb) throw new ShapeMismatchError(`${op}: A ${shapeToString(a.shape)} and B ${shapeToString(b.shape)} must have the same number of columns (C = A·Bᵀ).`);
    const problem = igemmShapeProblem(m, n, k);
    if (problem) {
      throw new ShapeMismatchError(`${op}: A ${shapeToString(a.shape)} · B ${shapeToString(b.shape)}ᵀ cannot run on cublasLt: ${problem}.`, {
        hint: 'Pad the weight to a multiple of 4 in both dimensions, or use the CPU backend.',
      });
    }
    return [m, n, k];
  }

  /**
   * C = A·Bᵀ on cublasLt for checked operands at any alignment and row count: cublasLt's int8 kernels
   * want 4-byte aligned operands and (in places) rows in multiples of 4, so small batches are padded
   * with zero rows and the result is the first m rows of the padded one. `padded`: out's storage has
   * room for paddedRows(m) rows.
   */
  private igemmPadded(a: Tensor, b: Tensor, out: Tensor, m: number, n: number, k: number, padded: boolean): void {
    const as = this.span(a);
    const bs = this.span(b);
    const mp = paddedRows(m);
    const temps: Tensor[] = [];
    try {
      let ap = a;
      if (mp !== m || as.byteOffset % 4 !== 0 || !this.ltSlackOk(a, m, k)) {
        ap = this.makeLt([mp, k], 'int8');
        temps.push(ap);
        const ps = this.span(ap);
        if (as.byteLength) this.native.copy(as.region, as.byteOffset, as.byteLength, ps.region, ps.byteOffset, as.byteLength);
        if (mp > m) this.native.fill(ps.region, ps.byteOffset + m * k, (mp - m) * k, 0);
      }
      let bp = b;
      if (bs.byteOffset % 4 !== 0) {
        bp = this.make([n, k], 'int8');
        temps.push(bp);
        this.copy(b, bp);
      }
      const os = (out.storage as CudaStorage).span(out.byteOffset, mp * n * 4);
      if ((padded || mp === m) && os.byteOffset % 4 === 0 && this.ltSlackOk(out, mp, n * 4)) {
        this.lt.igemm(this.span(ap), this.span(bp), os, mp, n, k, this.igemmPath);
      } else {
        // The caller's output has no room for the padded rows: compute into a temporary, copy m rows.
        const tmp = this.makeLt([mp, n], 'int32');
        temps.push(tmp);
        this.lt.igemm(this.span(ap), this.span(bp), this.span(tmp), mp, n, k, this.igemmPath);
        const ts = this.span(tmp);
        const dst = this.span(out);
        this.native.copy(ts.region, ts.byteOffset, m * n * 4, dst.region, dst.byteOffset, m * n * 4);
      }
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  dequantize(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: FloatDType; bias?: Tensor }): Tensor {
    const bias = options?.bias;
    this.check('dequantize', acc, rowScale, colScale, bias);
    checkDType('dequantize', acc, 'int32');
    checkRank('dequantize', acc, 2);
    const [m, n] = acc.shape;
    checkDType('dequantize', rowScale, 'float16');
    checkDType('dequantize', colScale, 'float16');
    checkShape('dequantize', rowScale, [m], 'rowScale');
    checkShape('dequantize', colScale, [n], 'colScale');
    const dtype = options?.dtype;
    if (dtype !== 'float16' && dtype !== 'float32') throw new InvalidArgumentError(`dequantize: options.dtype must be float16 or float32, not ${String(dtype)}.`);
    if (bias) {
      checkDType('dequantize', bias, dtype);
      checkShape('dequantize', bias, [n], 'bias');
    }
    const ins = [acc, rowScale, colScale, bias].map((t) => (t ? this.packed(t) : t)) as [Tensor, Tensor, Tensor, Tensor | undefined];
    const out = this.make([m, n], dtype);
    try {
      const [a, rs, cs, b] = ins;
      this.dequantizeLaunch(a, rs, cs, b, out);
    } finally {
      disposeCopies(ins, [acc, rowScale, colScale, bias]);
    }
    return out;
  }

  /** The dequantize kernel on packed, checked operands, into out (packed [m, n] of the output dtype). */
  private dequantizeLaunch(acc: Tensor, rowScale: Tensor, colScale: Tensor, bias: Tensor | undefined, out: Tensor): void {
    const [m, n] = acc.shape;
    if (m * n === 0) return;
    const al16 = (t: Tensor | undefined) => !t || this.span(t).byteOffset % 16 === 0;
    // 8 columns per thread where the layout allows (bit-identical to the 4-column kernel, tested).
    if (out.dtype === 'float16' && n % 8 === 0 && al16(acc) && al16(out) && al16(colScale) && al16(bias)) {
      const threads = up32(Math.min(256, n / 8));
      const chunks = Math.ceil(n / 8 / threads);
      this.launch('dequantize8_f16', m * chunks, threads, 'ppppipii', [acc, rowScale, colScale, bias ?? colScale, bias ? 1 : 0, out, m, n]);
      return;
    }
    const vec = n % 4 === 0 && this.span(acc).byteOffset % 16 === 0;
    const total = vec ? (m * n) / 4 : m * n;
    this.launch(`dequantize${vec ? '4' : ''}_${sfx(out.dtype)}`, CudaBackend.gridFor(total), 256, 'ppppipii', [
      acc, rowScale, colScale, bias ?? acc, bias ? 1 : 0, out, m, n,
    ]);
  }

  // ---- the int8 linear layer ----------------------------------------------------------------------
  /**
   * dequantize(igemm(quantizeRows(x), weight), scales, weightScale) with its options (norm first; GELU or
   * gated GELU; the residual last): the Backend's optional fused op, planned by linearRoute. One row:
   * one kernel (the GEMV); 2-32 rows: the quantize (with the norm), then linear_mma_q with every op in its
   * epilogue; beyond, the norm with the quantize, the product with what its epilogue takes, and the rest as
   * ops (LinearPlan).
   */
  linearInt8(x: Tensor, weight: Tensor, weightScale: Tensor, options: LinearInt8Options): Tensor {
    const { bias, residual, rmsNorm, layerNorm, gated, gelu } = options;
    this.check('linearInt8', x, weight, weightScale, bias, residual, rmsNorm?.weight, layerNorm?.weight, layerNorm?.bias);
    if (rmsNorm && layerNorm) throw new InvalidArgumentError('linearInt8: give rmsNorm or layerNorm, not both.');
    if (gated && gelu) throw new InvalidArgumentError('linearInt8: give gated or gelu, not both.');
    if (gated && weight.rank === 2 && weight.shape[0] % 2 !== 0) {
      throw new ShapeMismatchError(`linearInt8: a gated weight has an even number of rows [in; gate], not ${weight.shape[0]}.`);
    }
    const plan = linearRoute(linearCall(x, weight, weightScale, options, this.aligned16), this.routes, () => this.hopperFits(x, weight));
    if (plan.route === 'gemv') return this.linearGemv(x, weight, weightScale, options);
    const q = plan.route === 'mma-q' ? this.quantizeRowsGemv(x, options) : this.linearQuantize(x, options, plan.norm);
    try {
      if (plan.route === 'mma-q') return this.linearMmaQ(q, weight, weightScale, options);
      return this.linearProduct(q, weight, weightScale, options, plan);
    } finally {
      q.values.dispose();
      q.scales.dispose();
    }
  }

  /** linearInt8's first step: x quantized, normalised first where asked (in the quantize's kernel or as layerNorm, as the plan says). */
  private linearQuantize(x: Tensor, options: LinearInt8Options, norm: LinearPlan['norm']): { values: Tensor; scales: Tensor } {
    const n = options.rmsNorm ?? options.layerNorm;
    if (!n) return this.quantizeRows(x);
    const nb = options.layerNorm?.bias ?? null;
    const normOptions = { eps: n.eps, subtractMean: !!options.layerNorm };
    if (norm === 'quantize') return this.normQuantizeRows(x, n.weight, nb, normOptions);
    const xn = this.layerNorm(x, n.weight, nb, normOptions);
    try {
      return this.quantizeRows(xn);
    } finally {
      xn.dispose();
    }
  }

  /**
   * linearInt8's product and the ops after it: the Hopper kernel with plan.epilogue's ops in its
   * epilogue, or igemm + dequantize; then GELU or the gated GELU·gate and the residual add where the
   * epilogue did not take them. Every way rounds as the separate ops do, so they give the same bits.
   */
  private linearProduct(q: { values: Tensor; scales: Tensor }, weight: Tensor, ws: Tensor, options: LinearInt8Options, plan: LinearPlan): Tensor {
    const { bias, residual, gated, gelu } = options;
    const [rows, k] = q.values.shape;
    const m = weight.shape[0];
    // the ops after the product that `done` (the epilogue) did not apply; y is consumed
    const finish = (y: Tensor, done: LinearPlan['epilogue']): Tensor => {
      let h = y;
      try {
        if (gated && !done.gated) h = this.geluMul(y);
        else if (gelu && !done.gelu) h = this.gelu(y);
      } finally {
        if (h !== y) y.dispose();
      }
      if (!residual || done.residual) return h;
      try {
        return this.add(residual, h);
      } finally {
        h.dispose();
      }
    };
    const threeCalls = (): Tensor => {
      const acc = this.igemm(q.values, weight);
      let y: Tensor;
      try {
        y = this.dequantize(acc, q.scales, ws, { dtype: options.dtype, ...(bias ? { bias } : {}) });
      } finally {
        acc.dispose();
      }
      return y;
    };
    if (plan.route === 'fused' || plan.route === 'timed') {
      const epi = plan.epilogue;
      // tile: the kernel's tile shape (undefined: Sm90Gemm.tileFor's)
      const fused = (tile?: Sm90Tile): Tensor => {
        const y = this.make([rows, epi.gated ? m / 2 : m], 'float16');
        try {
          if (epi.gated) this.sm90.linearGated(q.values, q.scales, weight, ws, bias, y, epi.residual ? residual : undefined, tile);
          else this.sm90.linear(q.values, q.scales, weight, ws, bias, y, { gelu: epi.gelu, ...(epi.residual ? { residual } : {}), ...(tile ? { tile } : {}) });
        } catch (e) {
          y.dispose();
          throw e;
        }
        return y;
      };
      // Timed like with like: the fused kernel with its epilogue against the three calls followed by the
      // same ops as kernels of their own (what would follow both alike is left out).
      const callsAsFused = (): void => {
        const y = threeCalls();
        const g = epi.gated ? this.geluMul(y) : epi.gelu ? this.gelu(y) : y;
        const r = epi.residual && residual ? this.add(residual, g) : g;
        for (const t of new Set([y, g, r])) t.dispose();
      };
      if (plan.route === 'timed' && this.routes.fusedTileTune) {
        const tile = this.tuner.fusedTile(rows, m, k, !!bias, epi, SM90_TILES, (t) => fused(t).dispose(), callsAsFused);
        if (tile) return finish(fused(tile), epi);
        return finish(threeCalls(), { gelu: false, gated: false, residual: false });
      }
      const fusedWins = plan.route === 'fused' || this.tuner.fusedFaster(rows, m, k, !!bias, epi, () => fused().dispose(), callsAsFused);
      if (fusedWins) return finish(fused(), epi);
    }
    return finish(threeCalls(), { gelu: false, gated: false, residual: false });
  }

  /**
   * The 'mma-q' route's quantize (quantize_rows_gemv*, gemv.cu): each row normalised where asked and
   * quantized as linear_gemv's one-row kernel does it, so that batched decoding gives each sequence the
   * bits it gets alone. x float16, packed, 16-byte aligned, k % 64 == 0 (linearRoute checked).
   */
  private quantizeRowsGemv(x: Tensor, options: LinearInt8Options): { values: Tensor; scales: Tensor } {
    const [rows, k] = x.shape;
    const norm = options.rmsNorm ?? options.layerNorm;
    const values = this.make([rows, k], 'int8');
    const scales = this.make([rows], 'float16');
    try {
      const name = `quantize_rows_gemv${options.rmsNorm ? '_norm' : options.layerNorm ? '_ln' : ''}`;
      const nb = options.layerNorm?.bias;
      this.launch(name, rows, 256, 'pppipfpi', [x, values, scales, k, norm?.weight ?? x, norm?.eps ?? 0, nb ?? x, nb ? 1 : 0]);
    } catch (e) {
      values.dispose();
      scales.dispose();
      throw e;
    }
    return { values, scales };
  }

  /** linearInt8's 'mma-q' route: linear_mma_q on the quantized rows, every op after the product in its epilogue. */
  private linearMmaQ(q: { values: Tensor; scales: Tensor }, w: Tensor, ws: Tensor, options: LinearInt8Options): Tensor {
    const { bias, residual, gated, gelu } = options;
    const [rows, k] = q.values.shape;
    const m = w.shape[0];
    const name = `linear_mma_q${gated ? '_gated' : gelu ? '_gelu' : ''}_b${linearMmaQGroups(rows)}`;
    const shared = linearMmaQShared(rows);
    if ((this.gemvShared.get(name) ?? 0) < shared) {
      this.native.setMaxDynamicShared(this.fn(name), shared);
      this.gemvShared.set(name, shared);
    }
    const out = this.make([rows, gated ? m / 2 : m], 'float16');
    try {
      const groups = m / (16 * LINEAR_MMA_Q.tilesPerWarp);
      const grid = Math.min(this.info.multiprocessors ?? 132, groups);
      this.native.launch(this.fn(name), [grid, 1, 1], [LINEAR_MMA_Q.warps * 32, 1, 1], shared, 'pppppipipiiii', [
        ...this.flat([q.values, q.scales, w, ws, bias ?? ws]), bias ? 1 : 0, ...this.flat([residual ?? ws]), residual ? 1 : 0, ...this.flat([out]),
        rows, m, k, this.routes.weightsPastL1 ? 1 : 0,
      ], false, this.routes.dependentLaunch);
    } catch (e) {
      out.dispose();
      throw mapNativeError(e, 'linearInt8');
    }
    return out;
  }

  private readonly gemvShared = new Map<string, number>();
  private linearGemv(x: Tensor, w: Tensor, ws: Tensor, options: LinearInt8Options): Tensor {
    const { bias, residual, rmsNorm, layerNorm, gated, gelu } = options;
    const [rows, k] = x.shape;
    const m = w.shape[0];
    const sms = this.info.multiprocessors ?? 132;
    // every candidate launch runs the same kernel (linear_mma or linear_gemv), so the same bits
    const candidates = gemvLinearConfigs(rows, k, m, sms, this.routes);
    const mma = candidates[0].kernel === 'mma';
    const norm = rmsNorm ? '_norm' : layerNorm ? '_ln' : '';
    const act = gated ? '_gated' : gelu ? '_gelu' : '';
    const R = gemvRows(rows);
    const name = `linear_${mma ? 'mma' : 'gemv'}${norm}${act}${mma ? '' : `_r${R}`}`;
    const shared = mma ? linearMmaShared(k) : R * k;
    // Beyond 48 KiB of shared memory a kernel must opt in; the kernels' static shared memory (under 1 KiB)
    // counts too, so linear_mma at k = 4096 (exactly 48 KiB dynamic) needs it.
    if (shared > 47 * 1024 && (this.gemvShared.get(name) ?? 0) < shared) {
      this.native.setMaxDynamicShared(this.fn(name), shared);
      this.gemvShared.set(name, shared);
    }
    const out = this.make([rows, gated ? m / 2 : m], 'float16');
    try {
      const args = [
        ...this.flat([x, w, ws, bias ?? ws]), bias ? 1 : 0, ...this.flat([residual ?? x]), residual ? 1 : 0, ...this.flat([out]), rows, m, k,
        ...this.flat([(rmsNorm ?? layerNorm)?.weight ?? ws]), (rmsNorm ?? layerNorm)?.eps ?? 0, ...this.flat([layerNorm?.bias ?? ws]), layerNorm?.bias ? 1 : 0,
      ];
      const stream = this.routes.weightsPastL1 ? 1 : 0;
      // linear_mma: one block an SM, each taking groups of mt tiles of 16 weight rows; linear_gemv: as many
      // blocks as stay resident at once, each warp looping over its units of 4 weight rows (or its slice of their k)
      const run = (c: GemvLinearConfig) =>
        this.native.launch(this.fn(name), [c.grid, 1, 1], [c.kernel === 'mma' ? LINEAR_MMA_WARPS * 32 : 256, 1, 1], shared, 'ppppipipiiipfpiii',
          [...args, c.kernel === 'mma' ? c.mt : c.ks, stream], false, this.routes.dependentLaunch);
      const form = (rmsNorm ? 3 : layerNorm ? 6 : 0) + (gated ? 1 : gelu ? 2 : 0);
      const perSm = this.phasePerSm();
      if (perSm > 0 && rows === 1 && !mma && PHASE_LINEAR_FORMS.has(form) && shared <= PHASE_MAX_SHARED) {
        // a phase of decode_phases, its split of k planned for that kernel's grid (untimed: the same bits)
        const c = linearGemvSplit(m, k, 1, this.info.multiprocessors ?? 132, this.routes.gemvSplitK, perSm);
        const spans = this.flat([x, w, ws, bias ?? ws, residual ?? x, out, (rmsNorm ?? layerNorm)?.weight ?? ws, layerNorm?.bias ?? ws]);
        const flags = (bias ? 1 : 0) | (residual ? 2 : 0) | (layerNorm?.bias ? 4 : 0);
        const phase = [...spans, 0, 0, form, rows, m, k, c.ks, stream, c.grid, flags, (rmsNorm ?? layerNorm)?.eps ?? 0, 0];
        this.phases.push({ args: phase, shared, solo: () => run({ kernel: 'gemv', ...c }) }, perSm);
        return out;
      }
      const key = `${name}:${rows}:${m}:${k}:${bias ? 1 : 0}${residual ? 1 : 0}${layerNorm?.bias ? 1 : 0}:${stream}`;
      run(this.tuner.gemvLinear(key, candidates, run));
    } catch (e) {
      out.dispose();
      throw mapNativeError(e, 'linearInt8');
    }
    return out;
  }

  /** Backend.argmaxRows: one block per row (step.cu), inside a step as any op. */
  argmaxRows(x: Tensor, options: { exclude?: number } = {}): Tensor {
    this.check('argmaxRows', x);
    checkDType('argmaxRows', x, 'float32');
    checkRank('argmaxRows', x, 2);
    const [rows, n] = x.shape;
    const exclude = argmaxExclude(options, n);
    const xp = this.packed(x);
    const out = this.make([rows], 'int32');
    try {
      if (rows > 0) this.launch('argmax_rows_f32', rows, 1024, 'ppii', [xp, out, n, exclude]);
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      if (xp !== x) xp.dispose();
    }
    return out;
  }

  // ---- float ops --------------------------------------------------------------------------------
  gemm(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Tensor {
    this.check('gemm', a, b);
    checkDType('gemm', a, 'float16', 'float32');
    checkSameDType('gemm', a, b);
    checkRank('gemm', a, 2, 3);
    checkRank('gemm', b, 2, 3);
    const transA = options.transA ?? false;
    const transB = options.transB ?? false;
    const alpha = options.alpha ?? 1;
    if (!Number.isFinite(alpha)) throw new InvalidArgumentError(`gemm: alpha must be a finite number, not ${alpha}.`);
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const m = transA ? ca : ra;
    const k = transA ? ra : ca;
    const kb = transB ? cb : rb;
    const n = transB ? rb : cb;
    const batchA = a.rank === 3 ? a.shape[0] : 1;
    const batchB = b.rank === 3 ? b.shape[0] : 1;
    if (k !== kb || (a.rank === 3 && b.rank === 3 && batchA !== batchB)) {
      throw new ShapeMismatchError(
        `gemm: op(A) from ${shapeToString(a.shape)}${transA ? 'ᵀ' : ''} and op(B) from ${shapeToString(b.shape)}${transB ? 'ᵀ' : ''} do not fit (inner sizes ${k} and ${kb}${a.rank === 3 && b.rank === 3 ? `, batches ${batchA} and ${batchB}` : ''}).`,
      );
    }
    const batch = Math.max(batchA, batchB);
    const outShape = a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n];
    const out = this.make(outShape, a.dtype);
    if (out.numel === 0) return out;
    const run = (x: Tensor, y: Tensor) => {
      const rowStride = (t: Tensor) => (t.shape[t.rank - 2] <= 1 ? t.shape[t.rank - 1] : t.strides[t.rank - 2]);
      const batchStride = (t: Tensor) => (t.rank === 3 && t.shape[0] > 1 ? t.strides[0] : 0);
      this.lt.gemm({
        dtype: a.dtype as FloatDType, transA, transB, m, n, k, alpha,
        a: this.span(x), lda: rowStride(x), strideA: batchStride(x),
        b: this.span(y), ldb: rowStride(y), strideB: batchStride(y),
        c: this.span(out), batch,
      });
    };
    const lastOk = (t: Tensor) => t.shape[t.rank - 1] <= 1 || t.strides[t.rank - 1] === 1;
    const x = lastOk(a) ? a : this.contiguous(a);
    const y = lastOk(b) ? b : this.contiguous(b);
    try {
      run(x, y);
    } catch (e) {
      // A strided layout cublasLt has no algorithm for: retry once on packed copies.
      if (!(e instanceof UnsupportedError) || (x.isContiguous() && y.isContiguous())) {
        out.dispose();
        throw e;
      }
      const px = this.packed(x);
      const py = this.packed(y);
      try {
        run(px, py);
      } catch (e2) {
        out.dispose();
        throw e2;
      } finally {
        if (px !== x) px.dispose();
        if (py !== y) py.dispose();
      }
    } finally {
      if (x !== a) x.dispose();
      if (y !== b) y.dispose();
    }
    return out;
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): Tensor {
    this.check('layerNorm', x, weight, bias);
    checkDType('layerNorm', x, 'float16', 'float32');
    if (x.rank < 1) throw new ShapeMismatchError('layerNorm: x must have at least one dimension.');
    const d = x.shape[x.rank - 1];
    checkSameDType('layerNorm', x, weight);
    checkShape('layerNorm', weight, [d], 'weight');
    if (bias) {
      checkSameDType('layerNorm', x, bias);
      checkShape('layerNorm', bias, [d], 'bias');
    }
    const eps = options?.eps;
    if (typeof eps !== 'number' || !(eps >= 0)) throw new InvalidArgumentError(`layerNorm: eps must be a non-negative number, not ${String(eps)}.`);
    const ins = [x, weight, bias].map((t) => (t ? this.packed(t) : t)) as [Tensor, Tensor, Tensor | null];
    const out = this.make(x.shape, x.dtype);
    try {
      const rows = d === 0 ? 0 : x.numel / d;
      if (rows > 0) {
        const [xp, w, b] = ins;
        const args = [xp, w, b ?? w, b ? 1 : 0, out, d, eps, options.subtractMean ? 1 : 0];
        if (this.rowVecOk(d, xp, w, b, out)) {
          // the row in registers, read once: the kernel norm_quantize shares (an int8 linear's fused norm)
          const { items, threads } = rowVecLaunch(d);
          this.launch(`layernorm8_f16_${items}`, rows, threads, 'pppipifi', args);
        } else {
          this.launch(`layernorm_${sfx(x.dtype)}`, rows, up32(Math.ceil(d / 4)), 'pppipifi', args);
        }
      }
    } finally {
      disposeCopies(ins, [x, weight, bias]);
    }
    return out;
  }

  /** Whether float16 rows of `cols` and the norm's vectors take the register-row kernels (layernorm8, norm_quantize). */
  private rowVecOk(cols: number, ...ts: (Tensor | null | undefined)[]): boolean {
    return cols > 0 && cols % 8 === 0 && cols <= ROW_VEC_MAX_COLS && ts.every((t) => !t || (t.dtype === 'float16' && t.isContiguous() && this.aligned16(t)));
  }

  /**
   * quantizeRows(layerNorm(x, weight, bias, options)) for x [rows, k]: where layerNorm takes its
   * register-row kernel (float16, k % 8 == 0, 16-byte aligned), one kernel (norm_quantize_f16 in norm.cu)
   * that normalises each row in registers and quantizes it, bit for bit the two ops, the float16 row never
   * stored; elsewhere the two ops. The int8 linear's norm for more rows than the GEMV takes.
   */
  normQuantizeRows(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): { values: Tensor; scales: Tensor } {
    this.check('normQuantizeRows', x, weight, bias);
    checkRank('normQuantizeRows', x, 2);
    const [rows, k] = x.shape;
    const eps = options?.eps;
    if (!this.rowVecOk(k, x, weight, bias) || weight.rank !== 1 || weight.shape[0] !== k || (bias && (bias.rank !== 1 || bias.shape[0] !== k)) || !(eps >= 0)) {
      const xn = this.layerNorm(x, weight, bias, options);
      try {
        return this.quantizeRows(xn);
      } finally {
        xn.dispose();
      }
    }
    const values = this.makeLt([rows, k], 'int8');
    const scales = this.make([rows], 'float16');
    if (rows > 0) {
      const { items, threads } = rowVecLaunch(k);
      this.launch(`norm_quantize_f16_${items}`, rows, threads, 'pppippifi', [x, weight, bias ?? weight, bias ? 1 : 0, values, scales, k, eps, options.subtractMean ? 1 : 0]);
    }
    return { values, scales };
  }

  gelu(x: Tensor): Tensor {
    this.check('gelu', x);
    checkDType('gelu', x, 'float16', 'float32');
    const out = this.make(x.shape, x.dtype);
    if (x.numel === 0) return out;
    const a = CudaBackend.dims4(x, 'gelu');
    this.launch(`gelu_${sfx(x.dtype)}`, CudaBackend.gridFor(x.numel), 256, 'ppliiillll', [x, out, x.numel, a.n[1], a.n[2], a.n[3], ...a.s]);
    return out;
  }

  /**
   * mul(gelu(y[:, :f]), y[:, f:]) for y [rows, 2f] (a gated FFN's stacked in | gate), bit for bit the
   * two ops, in one pass (gelu_mul in elementwise.cu). Used by linearInt8's gated option.
   */
  private geluMul(y: Tensor): Tensor {
    const [rows, f2] = y.shape;
    const f = f2 / 2;
    if (y.dtype !== 'float16' || !y.isContiguous() || rows * f2 >= 2 ** 31) {
      const g = this.gelu(y.narrow(1, 0, f));
      try {
        return this.mul(g, this.packed(y.narrow(1, f, f)));
      } finally {
        g.dispose();
      }
    }
    const out = this.make([rows, f], 'float16');
    if (rows * f > 0) this.launch('gelu_mul_f16', Math.min(CudaBackend.gridFor(rows * f), 65536), 256, 'ppii', [y, out, rows, f]);
    return out;
  }

  softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
    if (options.distanceBias || options.keyBias) {
      // The attention kernel reads these as they are; the softmax (attention's composition: float32
      // scores, head sizes without a fused kernel) takes them as one full bias, made by a kernel.
      this.check('softmax', x, options.bias, options.distanceBias, options.keyBias);
      checkRank('softmax', x, 2, 3);
      checkScoreBias('softmax', x, x.shape, options);
      const full = this.scoreBias(x, options);
      try {
        return this.softmax(x, { ...(options.scale !== undefined ? { scale: options.scale } : {}), ...(options.causalOffset !== undefined ? { causalOffset: options.causalOffset } : {}), bias: full });
      } finally {
        full.dispose(); // stream-ordered: reused only by work queued after the softmax
      }
    }
    const bias = options.bias;
    this.check('softmax', x, bias);
    checkDType('softmax', x, 'float16', 'float32');
    checkRank('softmax', x, 2, 3);
    const scale = options.scale ?? 1;
    if (!Number.isFinite(scale)) throw new InvalidArgumentError(`softmax: scale must be a finite number, not ${scale}.`);
    const causal = options.causalOffset !== undefined;
    const causalOffset = options.causalOffset ?? 0;
    if (!Number.isSafeInteger(causalOffset)) throw new InvalidArgumentError(`softmax: causalOffset must be an integer, not ${causalOffset}.`);
    const [rows, cols] = x.shape.slice(-2);
    let biasMode = 0;
    if (bias) {
      checkSameDType('softmax', x, bias);
      if (bias.rank === x.rank && bias.shape.every((d, i) => d === x.shape[i])) biasMode = 1;
      else if (x.rank === 3 && bias.rank === 2 && bias.shape[0] === rows && bias.shape[1] === cols) biasMode = 2;
      else {
        throw new ShapeMismatchError(
          `softmax: bias ${shapeToString(bias.shape)} must have x's shape ${shapeToString(x.shape)}${x.rank === 3 ? ` or ${shapeToString(x.shape.slice(1))}` : ''}.`,
        );
      }
    }
    const xp = this.packed(x);
    const bp = bias ? this.packed(bias) : null;
    const out = this.make(x.shape, x.dtype);
    try {
      const nrows = x.numel / Math.max(cols, 1);
      if (x.numel > 0 && cols <= 1024) {
        // a warp per row, the row in registers (norm.cu); 16-byte loads where the rows allow
        const v8 = x.dtype === 'float16' && cols % 8 === 0 && this.aligned16(xp) && this.aligned16(out) && (!bp || this.aligned16(bp));
        this.launch(v8 ? 'softmax_warp8_f16' : `softmax_warp_${sfx(x.dtype)}`, Math.ceil(nrows / 8), 256, 'ppipliifii', [
          xp, bp ?? xp, biasMode, out, nrows, rows, cols, scale, causal ? 1 : 0, causalOffset,
        ]);
      } else if (x.numel > 0) {
        this.launch(`softmax_${sfx(x.dtype)}`, nrows, up32(Math.ceil(cols / 4)), 'ppipiifii', [
          xp, bp ?? xp, biasMode, out, rows, cols, scale, causal ? 1 : 0, causalOffset,
        ]);
      }
    } finally {
      if (xp !== x) xp.dispose();
      if (bp && bp !== bias) bp.dispose();
    }
    return out;
  }

  /**
   * ScoreBias's terms for scores x as one bias: bias + keyBias (add), or x's shape from a distance bias
   * and/or [rows, cols] from a key bias alone (score_bias_*, elementwise.cu).
   */
  private scoreBias(x: Tensor, sb: ScoreBias): Tensor {
    if (sb.bias) return this.add(sb.bias, sb.keyBias as Tensor); // checkScoreBias: never beside a distance bias
    const [rows, cols] = x.shape.slice(-2);
    const dist = sb.distanceBias ? this.packed(sb.distanceBias) : null;
    const key = sb.keyBias ? this.packed(sb.keyBias) : null;
    const out = this.make(dist ? x.shape : [rows, cols], x.dtype);
    try {
      const total = out.numel;
      if (total > 0) {
        this.launch(`score_bias_${sfx(x.dtype)}`, Math.min(CudaBackend.gridFor(total), 65536), 256, 'pipipiii', [
          dist ?? out, dist ? 1 : 0, key ?? out, key ? 1 : 0, out, total / (rows * cols), rows, cols,
        ]);
      }
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      if (dist && dist !== sb.distanceBias) dist.dispose();
      if (key && key !== sb.keyBias) key.dispose();
    }
    return out;
  }

  /**
   * Backend.attention: float16 heads of 64, 80 or 128 dimensions with 16-byte aligned rows run as one
   * kernel (attention.cu) reading q, k and v in place and writing [n, heads*headDim]; everything else
   * (attention-route.ts says why) as the composition. No host reads, one launch: fine inside a step.
   */
  attention(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor {
    const { distanceBias, keyBias } = options;
    this.check('attention', q, keys, values, options.bias, distanceBias, keyBias);
    checkAttention(q, keys, values, options);
    const [heads, n, headDim] = q.shape;
    const L = keys.shape[1];
    // Strides of dimensions of size 1 are never multiplied by anything but 0: take them as 0.
    const strides = (t: Tensor) => t.strides.map((s, i) => (t.shape[i] === 1 ? 0 : s));
    const operand = (t: Tensor) => ({ strides: strides(t), misalign: ((t.storage as CudaStorage).base + t.byteOffset) % 16 });
    // A bias by distance is read as a [heads, n, L] bias whose rows start one element apart, backwards
    // (row stride -1), row 0 at column n - 1: the kernel is passed that column's address, and row i's
    // reads reach back to column n - 1 - i ≥ 0, inside the tensor (whose columns must then be adjacent).
    const db = distanceBias && n > 0 ? (distanceBias.strides[1] === 1 ? distanceBias : this.contiguous(distanceBias)) : undefined;
    const skip = (n - 1) * dtypeSize(q.dtype); // bytes before column n - 1
    const bias: Tensor | DeviceSpan | undefined = db ? (db.storage as CudaStorage).span(db.byteOffset + skip, db.lastByte() - db.byteOffset - skip) : options.bias;
    const bs = db ? [strides(db)[0], -1, 1] : options.bias ? strides(options.bias) : [0, 0, 1];
    const route = attentionRoute({
      dtype: q.dtype, ccMajor: this.info.computeCapability?.[0] ?? 0, heads, n, L, headDim, causalOffset: options.causalOffset,
      q: operand(q), keys: operand(keys), values: operand(values), bias: bias ? { strides: bs } : undefined,
      keyBias: keyBias ? { strides: strides(keyBias) } : undefined,
    });
    if ('reason' in route || n === 0 || heads === 0) {
      if (db && db !== distanceBias) db.dispose();
      return attentionByParts(this, q, keys, values, options);
    }
    const out = this.make([n, heads * headDim], q.dtype);
    const [qs, ks, vs] = [q, keys, values].map(strides);
    const qTiles = Math.ceil(n / 64);
    try {
      this.launch(route.kernel, heads * qTiles, 128, 'pllpllpllpllippiiiifii', [
        q, qs[0], qs[1], keys, ks[0], ks[1], values, vs[0], vs[1], bias ?? q, bs[0], bs[1], bias ? 1 : 0, keyBias ?? q,
        out, n, L, heads, qTiles, options.scale, options.causalOffset !== undefined ? 1 : 0, options.causalOffset ?? 0,
      ]);
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      if (db && db !== distanceBias) db.dispose(); // stream-ordered, as the pool's blocks are
    }
    return out;
  }

  embedding(ids: Tensor, table: Tensor): Tensor {
    this.check('embedding', ids, table);
    checkDType('embedding', ids, 'int32');
    checkRank('embedding', ids, 1);
    checkDType('embedding', table, 'float16', 'float32');
    checkRank('embedding', table, 2);
    const [vocab, d] = table.shape;
    const n = ids.shape[0];
    const ip = this.packed(ids);
    const tp = this.packed(table);
    const out = this.make([n, d], table.dtype);
    // 16-byte copies where the rows allow (out is a fresh pool block: 256-byte aligned)
    const kernel = table.dtype === 'float16' && d % 8 === 0 && this.aligned16(tp) ? 'embedding_f16v8' : `embedding_${sfx(table.dtype)}`;
    try {
      if (n > 0 && this.capturing) {
        // Inside a step the host checked the ids before writing them; an id out of range gives zeros.
        const flag = this.flag.span(4, 4);
        this.launch(kernel, n, Math.min(256, up32(d)), 'pppiiip', [ip, tp, out, n, d, vocab, flag]);
      } else if (n > 0) {
        const flag = this.flag.span(0, 4);
        this.native.fill(flag.region, flag.byteOffset, 4, 0);
        this.launch(kernel, n, Math.min(256, up32(d)), 'pppiiip', [ip, tp, out, n, d, vocab, flag]);
        const bad = new Int32Array(1);
        this.native.download(flag.region, flag.byteOffset, 4, bad);
        if (bad[0] !== 0) {
          const pos = bad[0] - 1;
          const id = new Int32Array(1);
          const is = this.span(ip);
          this.native.download(is.region, is.byteOffset + pos * 4, 4, id);
          out.dispose();
          throw new InvalidArgumentError(`embedding: id ${id[0]} at position ${pos} is out of range for a table of ${vocab} rows.`, {
            hint: 'Check the tokenizer and the model: ids must lie in [0, vocab).',
          });
        }
      }
    } finally {
      if (ip !== ids) ip.dispose();
      if (tp !== table) tp.dispose();
    }
    return out;
  }

  private binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
    this.check(op, a, b);
    checkDType(op, a, 'float16', 'float32');
    checkSameDType(op, a, b);
    checkBroadcastSuffix(op, a, b);
    const ap = this.packed(a);
    const bp = this.packed(b);
    const out = this.make(a.shape, a.dtype);
    try {
      if (a.numel > 0 && b.numel > 0) this.launch(`${op}_${sfx(a.dtype)}`, CudaBackend.gridFor(a.numel), 256, 'pppll', [ap, bp, out, a.numel, b.numel]);
    } finally {
      if (ap !== a) ap.dispose();
      if (bp !== b) bp.dispose();
    }
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b);
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
    const grid = Math.min(CudaBackend.gridFor(t.numel), 65536);
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
    this.check('scatterRows', src, dst, index);
    checkSameDType('scatterRows', src, dst);
    checkRank('scatterRows', src, 2);
    checkRank('scatterRows', dst, 2);
    checkDType('scatterRows', index, 'int32');
    checkShape('scatterRows', index, [src.shape[0]], 'index');
    checkContiguous('scatterRows', dst, 'dst');
    checkContiguous('scatterRows', index, 'index');
    const [n, w] = src.shape;
    if (dst.shape[1] !== w) throw new ShapeMismatchError(`scatterRows: src rows of ${w} do not fit dst ${shapeToString(dst.shape)}.`);
    if (src.dtype === 'int8') throw new UnsupportedError('scatterRows: int8 rows are not supported on CUDA.', { hint: 'Scatter float16 or float32 rows.' });
    if (n === 0 || w === 0) return;
    const sp = src.strides[1] === 1 ? src : this.contiguous(src);
    try {
      this.launch(`scatter_rows_b${dtypeSize(src.dtype) * 8}`, n, Math.min(256, up32(w)), 'plppil', [sp, sp.strides[0], dst, index, w, dst.shape[0]]);
    } finally {
      if (sp !== src) sp.dispose();
    }
  }

  attendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): Tensor {
    const bias = options.distanceBias;
    this.check('attendCache', q, keys, values, lengths, bias, options.append?.keys, options.append?.values);
    checkDType('attendCache', q, 'float16', 'float32');
    checkSameDType('attendCache', q, keys);
    checkSameDType('attendCache', q, values);
    checkRank('attendCache', q, 2);
    checkDType('attendCache', lengths, 'int32');
    const [B, width] = q.shape;
    const { slotRows, scale } = options;
    if (!Number.isInteger(slotRows) || slotRows < 1 || slotRows > 12288) {
      throw new InvalidArgumentError(`attendCache: slotRows must be an integer from 1 to 12288 on CUDA, not ${String(slotRows)}.`);
    }
    if (!Number.isFinite(scale)) throw new InvalidArgumentError(`attendCache: scale must be a finite number, not ${String(scale)}.`);
    checkShape('attendCache', keys, [B * slotRows, width], 'keys');
    checkShape('attendCache', values, [B * slotRows, width], 'values');
    checkShape('attendCache', lengths, [B], 'lengths');
    for (const [t, name] of [[keys, 'keys'], [values, 'values'], [lengths, 'lengths']] as const) checkContiguous('attendCache', t, name);
    if (bias) {
      checkSameDType('attendCache', q, bias);
      checkContiguous('attendCache', bias, 'distanceBias');
      checkShape('attendCache', bias, [options.heads, slotRows], 'distanceBias');
    }
    const numHeads = options.heads;
    if (!Number.isInteger(numHeads) || numHeads < 1 || width % numHeads !== 0) {
      throw new ShapeMismatchError(`attendCache: ${String(numHeads)} heads do not divide q's width ${width}.`);
    }
    const headDim = width / numHeads;
    if (headDim > 1024) throw new UnsupportedError(`attendCache: heads of ${headDim} dimensions are not supported on CUDA (at most 1024).`);
    const append = checkAppend('attendCache', q, options.append);
    const qp = q.strides[1] === 1 || width === 1 ? q : this.contiguous(q);
    const out = this.make([B, width], q.dtype);
    let work: Tensor | null = null;
    try {
      if (B > 0 && width > 0) {
        // float16 heads of 8k ≤ 256 dimensions with 16-byte aligned caches: the kernel spread for latency
        const v8 = q.dtype === 'float16' && headDim % 8 === 0 && headDim <= 256 && this.span(keys).byteOffset % 16 === 0 && this.span(values).byteOffset % 16 === 0;
        const args = [
          ...this.flat([qp]), qp.strides[0], ...this.flat([keys, values, lengths, bias ?? keys]), bias ? 1 : 0, ...this.flat([out]), numHeads, headDim, slotRows, scale,
          ...this.flat([append?.keys ?? keys, append?.values ?? values]), append ? append.keys.strides[0] : 0, append ? 1 : 0,
        ];
        if (!v8) {
          this.native.launch(this.fn(`attend_cache_${sfx(q.dtype)}`), [B * numHeads, 1, 1], [128, 1, 1], slotRows * 4, 'plppppipiiifppli', args, false, this.routes.dependentLaunch);
        } else {
          // split over the cache where the (sequence, head) pairs alone leave SMs idle (linear-route.ts)
          const auto = attendCacheSplits(B * numHeads, slotRows, this.info.multiprocessors ?? 132);
          const splits = this.routes.attendSplitMax > 0 ? Math.min(auto, this.routes.attendSplitMax) : auto;
          const chunk = Math.ceil(slotRows / splits);
          const counters = this.attendCounters.span(0, 4 * ATTEND_SPLIT_MAX_PAIRS);
          const launchV8 = (work: Tensor | null) =>
            this.native.launch(this.fn('attend_cache_f16v8'), [B * numHeads * splits, 1, 1], [256, 1, 1], chunk * 4, 'plppppipiiifpplippiipp', [
              ...args, ...this.flat([keys, values]), splits, chunk, ...(work ? this.flat([work]) : [counters.region, counters.byteOffset, 0]), counters.region, counters.byteOffset, counters.byteLength,
            ], false, this.routes.dependentLaunch);
          const perSm = this.phasePerSm();
          if (perSm > 0 && splits === 1 && chunk * 4 <= PHASE_MAX_SHARED) {
            // a phase of decode_phases (decode-phases.ts); the cache rows it appends are written through keys / values
            const spans = this.flat([qp, keys, values, lengths, bias ?? keys, out, append?.keys ?? keys, append?.values ?? values]);
            const phase = [...spans, qp.strides[0], append ? append.keys.strides[0] : 0, PHASE_ATTEND, numHeads, headDim, slotRows, bias ? 1 : 0, append ? 1 : 0, B * numHeads, chunk, scale, 0];
            this.phases.push({ args: phase, shared: chunk * 4, solo: () => launchV8(null) }, perSm);
            return out;
          }
          work = splits > 1 ? this.make([B * numHeads * splits * (headDim + 2)], 'float32') : null;
          launchV8(work);
        }
      }
    } catch (e) {
      out.dispose();
      throw mapNativeError(e, 'attendCache');
    } finally {
      if (qp !== q) qp.dispose();
      work?.dispose(); // stream-ordered: the pool hands it out again only to later work on this stream
    }
    return out;
  }

  /** RoutePolicy.decodePhases where decode_phases exists (compute capability 7.0+, phases.cu), else 0. */
  private phasePerSm(): number {
    return (this.info.computeCapability?.[0] ?? 0) >= 7 ? this.routes.decodePhases : 0;
  }

  /** A tensor's span as launch() takes it: region, byteOffset, byteLength. */
  private flat(ts: Tensor[]): LaunchArg[] {
    return ts.flatMap((t) => {
      const s = this.span(t);
      return [s.region, s.byteOffset, s.byteLength];
    });
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
