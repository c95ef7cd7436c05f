// The CPU backend: the Backend contract of @bminf/core over the addon's C++ kernels (threads, AVX2)
// and a host memory pool. Each op checks its inputs (typed errors) before native code runs.
import { HostPool } from '@bminf/allocator';
import {
  type AttendCacheOptions,
  type AttentionOptions,
  type SoftmaxOptions,
  checkScoreBias,
  type Backend,
  attentionByParts,
  checkAttention,
  type StepGraph,
  type DType,
  Device,
  type HostArray,
  InvalidArgumentError,
  type Shape,
  ShapeMismatchError,
  Tensor,
  assertValidShape,
  checkBroadcastSuffix,
  checkContiguous,
  checkDType,
  argmaxExclude,
  checkAttendCache,
  type LinearInt8Options,
  checkRank,
  checkSameDType,
  checkScatterRows,
  checkShape,
  contiguousStrides,
  dtypeOfArray,
  dtypeSize,
  hostArray,
  isDType,
  numelOf,
  retainStorages,
  shapeToString,
  tidy,
} from '@bminf/core';
import { collapseDims } from './collapse.js';
import { storageArray } from './host-arrays.js';
import { type CpuIsa, type CpuKernelInfo, nativeCpu as N } from './native.js';

/** The CPU kernel paths, lowest first. */
export const CPU_ISAS: readonly CpuIsa[] = ['plain', 'avx2', 'avxvnni', 'avx512'];
import { CpuStepGraph, setInlineStepMicros } from './step-graph.js';
import { checkFiniteNumber, checkFloat, checkInputs, checkInteger, checkLength } from './validate.js';

type FloatArray = Float32Array | Uint16Array;

// True while captureStep records on this thread. Module-wide, as the native recording is per thread:
// ops of every CpuBackend are recorded, so every one must refuse host reads meanwhile.
let capturing = false;

export interface CpuBackendOptions {
  /** The pool tensors are allocated from (default: a new unlimited pool). */
  pool?: HostPool;
  /** The byte limit of the new pool, when no pool is given. */
  limitBytes?: number;
  /**
   * The threads CPU ops may use (1–256), process-wide: the thread pool is shared by every CPU backend.
   * Default: BMINF_CPU_THREADS, else every hardware thread. Each op uses as many as its size repays.
   */
  threads?: number;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly device = Device.cpu;
  readonly pool: HostPool;
  private _disposed = false;

  constructor(options: CpuBackendOptions = {}) {
    if (options.threads !== undefined) CpuBackend.setThreads(options.threads);
    this.pool = options.pool ?? new HostPool(options.limitBytes !== undefined ? { limitBytes: options.limitBytes } : {});
  }

  /** Sets the threads CPU ops may use (1–256), process-wide; see CpuBackendOptions.threads. */
  static setThreads(threads: number): void {
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new InvalidArgumentError(`threads must be an integer from 1 to 256, but is ${String(threads)}.`, { hint: 'Pass the number of CPU threads to use, e.g. 1 or os.availableParallelism().' });
    }
    N.setThreads(threads);
  }

  /**
   * Recorded steps (captureStep) whose last replay took less than this many microseconds run on the
   * calling thread instead of a worker (default INLINE_STEP_MICROS, 1000; 0: never; Infinity: every
   * run after the first), process-wide. See step-graph.ts for why.
   */
  static setInlineStepMicros(micros: number): void {
    setInlineStepMicros(micros);
  }

  /** True after dispose(). */
  get disposed(): boolean {
    return this._disposed;
  }

  /** Which kernels run: the instruction-set path in use, the paths this CPU has, threads. */
  static kernelInfo(): CpuKernelInfo {
    return N.info();
  }

  /** Forces the plain C++ kernels (for tests comparing them with AVX2), process-wide; false restores. */
  static setPlainKernels(plain: boolean): void {
    N.setPlainKernels(plain);
  }

  /**
   * Forces an instruction-set path, process-wide (as BMINF_CPU_ISA does at start-up); where the CPU
   * lacks it, the highest path below it that the CPU has runs (kernelInfo().isa says which). null
   * restores the default.
   */
  static setIsa(isa: CpuIsa | null): void {
    if (isa !== null && !CPU_ISAS.includes(isa)) {
      throw new InvalidArgumentError(`setIsa: unknown instruction-set path "${String(isa)}".`, { hint: `Use one of ${CPU_ISAS.join(', ')}, or null for the default.` });
    }
    N.setIsa(isa);
  }

  private check(op: string, ...ts: (Tensor | null | undefined)[]): void {
    checkInputs(op, this._disposed, ...ts);
  }

  // ---- memory -------------------------------------------------------------------------------------

  empty(shape: Shape, dtype: DType): Tensor {
    if (this._disposed) checkInputs('empty', true);
    if (!isDType(dtype)) throw new InvalidArgumentError(`empty: unknown dtype "${String(dtype)}".`, { hint: 'Use int8, int32, float16 or float32.' });
    assertValidShape(shape);
    const storage = this.pool.allocate(numelOf(shape) * dtypeSize(dtype));
    return new Tensor({ storage, dtype, shape });
  }

  zeros(shape: Shape, dtype: DType): Tensor {
    const t = this.empty(shape, dtype);
    // Natively, so that a recorded step zeroes it again on every run, as an eager one does.
    N.zero(this.arr(t), 0, t.numel);
    return t;
  }

  upload(data: HostArray, shape: Shape): Tensor {
    if (!(data instanceof Int8Array || data instanceof Int32Array || data instanceof Uint16Array || data instanceof Float32Array)) {
      throw new InvalidArgumentError('upload: data must be an Int8Array, Int32Array, Uint16Array (float16 bits) or Float32Array.');
    }
    assertValidShape(shape);
    this.noHostCopy('upload');
    if (data.length !== numelOf(shape)) {
      throw new ShapeMismatchError(`upload: ${data.length} elements cannot fill shape ${shapeToString(shape)} (${numelOf(shape)} elements).`);
    }
    const t = this.empty(shape, dtypeOfArray(data));
    (this.view(t) as Float32Array).set(data as Float32Array);
    return t;
  }

  download(t: Tensor): HostArray {
    this.check('download', t);
    if (capturing) {
      throw new InvalidArgumentError('download: a step being captured cannot read back to the host.', {
        hint: "Read the step's outputs after its run() resolves.",
      });
    }
    if (t.isContiguous()) return this.view(t).slice();
    const out = hostArray(t.dtype, new ArrayBuffer(t.byteLength), 0, t.numel);
    this.stridedCopy('download', t, out, 0, contiguousStrides(t.shape));
    return out;
  }

  downloadInto(t: Tensor, dst: HostArray, dstOffset: number): void {
    this.check('downloadInto', t);
    if (capturing) {
      throw new InvalidArgumentError('downloadInto: a step being captured cannot read back to the host.', {
        hint: "Read the step's outputs after its run() resolves.",
      });
    }
    if (dtypeOfArray(dst) !== t.dtype) {
      throw new InvalidArgumentError(`downloadInto: dst must be an array of the tensor's dtype (${t.dtype}).`, {
        hint: 'float16 data is read as Uint16Array bits.',
      });
    }
    checkInteger('downloadInto', 'dstOffset', dstOffset);
    if (dstOffset < 0 || dstOffset + t.numel > dst.length) {
      throw new InvalidArgumentError(`downloadInto: ${t.numel} elements do not fit in dst (${dst.length}) at offset ${dstOffset}.`);
    }
    if (t.isContiguous()) (dst as Float32Array).set(this.view(t) as Float32Array, dstOffset);
    else this.stridedCopy('downloadInto', t, dst, dstOffset, contiguousStrides(t.shape));
  }

  copy(src: Tensor, dst: Tensor): void {
    this.check('copy', src, dst);
    checkSameDType('copy', src, dst);
    checkShape('copy', dst, src.shape, 'dst');
    this.stridedCopy('copy', src, storageArray(dst), dst.offset, dst.strides);
  }

  contiguous(x: Tensor): Tensor {
    this.check('contiguous', x);
    // A packed x needs no copy: a new tensor over the same (reference-counted) storage.
    if (x.isContiguous()) return new Tensor({ storage: x.storage, dtype: x.dtype, shape: x.shape, offset: x.offset });
    const out = this.empty(x.shape, x.dtype);
    this.copy(x, out);
    return out;
  }

  cast(x: Tensor, dtype: 'float16' | 'float32'): Tensor {
    this.check('cast', x);
    checkFloat('cast', x);
    if (dtype !== 'float16' && dtype !== 'float32') {
      throw new InvalidArgumentError(`cast: the target dtype must be float16 or float32 but is ${String(dtype)}.`);
    }
    const out = this.empty(x.shape, dtype);
    this.stridedCopy('cast', x, storageArray(out), 0, contiguousStrides(x.shape));
    return out;
  }

  synchronize(): void {
    // CPU ops finish before they return.
  }

  // ---- quantization and integer GEMM --------------------------------------------------------------------

  quantizeRows(x: Tensor): { values: Tensor; scales: Tensor } {
    this.check('quantizeRows', x);
    checkFloat('quantizeRows', x);
    checkRank('quantizeRows', x, 2);
    const [rows, cols] = x.shape;
    const xc = this.packed(x);
    const values = this.empty([rows, cols], 'int8');
    const scales = this.empty([rows], 'float16');
    try {
      N.quantizeRows(this.arr(xc) as FloatArray, xc.offset, rows, cols, this.arr(values) as Int8Array, 0, this.arr(scales) as Uint16Array, 0);
    } finally {
      if (xc !== x) xc.dispose();
    }
    return { values, scales };
  }

  igemm(a: Tensor, b: Tensor): Tensor {
    this.check('igemm', a, b);
    checkDType('igemm', a, 'int8');
    checkDType('igemm', b, 'int8');
    checkRank('igemm', a, 2);
    checkRank('igemm', b, 2);
    const [m, k] = a.shape;
    const [n, kb] = b.shape;
    if (k !== kb) {
      throw new ShapeMismatchError(`igemm: A ${shapeToString(a.shape)} and B ${shapeToString(b.shape)} must agree in k (their last dimension).`, {
        hint: 'B is [n, k]: a linear layer weight [out, in].',
      });
    }
    if (k > 131071) throw new InvalidArgumentError(`igemm: k = ${k} is too large (at most 131071, so that int32 sums cannot overflow).`);
    const ac = this.packed(a);
    const bc = this.packed(b);
    const c = this.empty([m, n], 'int32');
    try {
      N.igemm(this.arr(ac) as Int8Array, ac.offset, this.arr(bc) as Int8Array, bc.offset, this.arr(c) as Int32Array, 0, m, n, k);
    } finally {
      if (ac !== a) ac.dispose();
      if (bc !== b) bc.dispose();
    }
    return c;
  }

  dequantize(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: 'float16' | 'float32'; bias?: Tensor }): Tensor {
    const bias = options?.bias;
    this.check('dequantize', acc, rowScale, colScale, bias);
    const dtype = options?.dtype;
    if (dtype !== 'float16' && dtype !== 'float32') {
      throw new InvalidArgumentError(`dequantize: options.dtype must be float16 or float32 but is ${String(dtype)}.`);
    }
    checkDType('dequantize', acc, 'int32');
    checkRank('dequantize', acc, 2);
    checkDType('dequantize', rowScale, 'float16');
    checkDType('dequantize', colScale, 'float16');
    const [m, n] = acc.shape;
    checkLength('dequantize', rowScale, m, 'rowScale');
    checkLength('dequantize', colScale, n, 'colScale');
    if (bias) {
      checkDType('dequantize', bias, dtype);
      checkLength('dequantize', bias, n, 'bias');
    }
    const parts = [acc, rowScale, colScale, bias ?? null].map((t) => (t ? this.packed(t) : null));
    const [a, rs, cs, bi] = parts;
    const out = this.empty([m, n], dtype);
    try {
      N.dequantize(
        this.arr(a!) as Int32Array, a!.offset, m, n,
        this.arr(rs!) as Uint16Array, rs!.offset, this.arr(cs!) as Uint16Array, cs!.offset,
        bi ? (this.arr(bi) as FloatArray) : null, bi ? bi.offset : 0,
        this.arr(out) as FloatArray, 0,
      );
    } finally {
      this.release(parts, [acc, rowScale, colScale, bias ?? null]);
    }
    return out;
  }

  /**
   * The whole int8 linear layer in one native op (linear_int8.cc): quantizeRows(x), igemm with the
   * weight, dequantize (+ bias), and with a residual add(residual, that), bit for bit as those ops
   * give it, without their temporaries.
   */
  linearInt8(
    x: Tensor,
    weight: Tensor,
    weightScale: Tensor,
    options: LinearInt8Options,
  ): Tensor {
    // The norm, gated and GELU forms (the CUDA decode step's one-kernel GEMV) run here as the ops they stand for.
    if (options?.rmsNorm && options.layerNorm) throw new InvalidArgumentError('linearInt8: give rmsNorm or layerNorm, not both.');
    if (options?.gated && options.gelu) throw new InvalidArgumentError('linearInt8: give gated or gelu, not both.');
    const norm = options?.rmsNorm ?? options?.layerNorm;
    if (norm) {
      // RMS: no mean, no bias; LayerNorm: both
      const { rmsNorm: _rms, layerNorm: ln, ...rest } = options;
      return tidy(() => this.linearInt8(this.layerNorm(x, norm.weight, ln?.bias ?? null, { eps: norm.eps, subtractMean: !!ln }), weight, weightScale, rest));
    }
    if (options?.gelu || options?.gated) {
      const { gelu, gated: _gated, residual: res, ...rest } = options;
      return tidy(() => {
        const y = this.linearInt8(x, weight, weightScale, rest);
        const f = y.shape[1] / 2;
        if (!gelu && !Number.isInteger(f)) throw new ShapeMismatchError(`linearInt8: a gated weight has an even number of rows [in; gate], not ${y.shape[1]}.`);
        const h = gelu ? this.gelu(y) : this.mul(this.gelu(y.narrow(1, 0, f)), y.narrow(1, f, f));
        return res ? this.add(res, h) : h;
      });
    }
    const bias = options?.bias;
    const residual = options?.residual;
    this.check('linearInt8', x, weight, weightScale, bias, residual);
    const dtype = options?.dtype;
    if (dtype !== 'float16' && dtype !== 'float32') {
      throw new InvalidArgumentError(`linearInt8: options.dtype must be float16 or float32 but is ${String(dtype)}.`);
    }
    checkFloat('linearInt8', x);
    checkRank('linearInt8', x, 2);
    checkDType('linearInt8', weight, 'int8');
    checkRank('linearInt8', weight, 2);
    checkDType('linearInt8', weightScale, 'float16');
    const [n, k] = x.shape;
    const [m, kw] = weight.shape;
    if (k !== kw) {
      throw new ShapeMismatchError(`linearInt8: x ${shapeToString(x.shape)} and weight ${shapeToString(weight.shape)} must agree in k (their last dimension).`, {
        hint: 'The weight is [out, in]: a linear layer weight.',
      });
    }
    if (k > 131071) throw new InvalidArgumentError(`linearInt8: k = ${k} is too large (at most 131071, so that int32 sums cannot overflow).`);
    checkLength('linearInt8', weightScale, m, 'weightScale');
    if (bias) {
      checkDType('linearInt8', bias, dtype);
      checkLength('linearInt8', bias, m, 'bias');
    }
    if (residual) {
      checkDType('linearInt8', residual, dtype);
      if (residual.rank !== 2 || residual.shape[0] !== n || residual.shape[1] !== m) {
        throw new ShapeMismatchError(`linearInt8: residual must have shape [${n}, ${m}] but has ${shapeToString(residual.shape)}.`);
      }
    }
    const inputs = [x, weight, weightScale, bias ?? null, residual ?? null];
    const parts = inputs.map((t) => (t ? this.packed(t) : null));
    const [xc, w, ws, bi, re] = parts;
    const out = this.empty([n, m], dtype);
    try {
      N.linearInt8(
        this.arr(xc!) as FloatArray, xc!.offset, n, k,
        this.arr(w!) as Int8Array, w!.offset, m,
        this.arr(ws!) as Uint16Array, ws!.offset,
        bi ? (this.arr(bi) as FloatArray) : null, bi ? bi.offset : 0,
        re ? (this.arr(re) as FloatArray) : null, re ? re.offset : 0,
        this.arr(out) as FloatArray, 0,
      );
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      this.release(parts, inputs);
    }
    return out;
  }

  // ---- float ops ------------------------------------------------------------------------------------------

  gemm(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Tensor {
    this.check('gemm', a, b);
    checkFloat('gemm', a);
    checkSameDType('gemm', a, b);
    checkRank('gemm', a, 2, 3);
    checkRank('gemm', b, a.rank);
    const transA = options.transA ?? false;
    const transB = options.transB ?? false;
    const alpha = checkFiniteNumber('gemm', 'alpha', options.alpha ?? 1);
    const batched = a.rank === 3;
    const batch = batched ? a.shape[0] : 1;
    if (batched && b.shape[0] !== batch) {
      throw new ShapeMismatchError(`gemm: A ${shapeToString(a.shape)} and B ${shapeToString(b.shape)} must have the same batch size.`);
    }
    const [ar, ac] = a.shape.slice(-2);
    const [br, bc] = b.shape.slice(-2);
    const [m, k] = transA ? [ac, ar] : [ar, ac];
    const [kb, n] = transB ? [bc, br] : [br, bc];
    if (k !== kb) {
      throw new ShapeMismatchError(
        `gemm: op(A) is [${m}, ${k}] and op(B) is [${kb}, ${n}] (transA ${transA}, transB ${transB}): their inner dimensions differ.`,
      );
    }
    // The kernels need unit stride along the last dimension; anything else is packed first.
    const unit = (t: Tensor) => t.shape[t.rank - 1] <= 1 || t.strides[t.rank - 1] === 1;
    const ax = unit(a) ? a : this.contiguousCopy(a);
    const bx = unit(b) ? b : this.contiguousCopy(b);
    const ld = (t: Tensor) => (t.shape[t.rank - 2] <= 1 ? t.shape[t.rank - 1] : t.strides[t.rank - 2]);
    const bs = (t: Tensor) => (batched && t.shape[0] > 1 ? t.strides[0] : 0);
    const out = this.empty(batched ? [batch, m, n] : [m, n], a.dtype);
    try {
      N.gemm(
        this.arr(ax) as FloatArray, ax.offset, ld(ax), bs(ax),
        this.arr(bx) as FloatArray, bx.offset, ld(bx), bs(bx),
        this.arr(out) as FloatArray, 0, batch, m, n, k, transA, transB, alpha,
      );
    } finally {
      if (ax !== a) ax.dispose();
      if (bx !== b) bx.dispose();
    }
    return out;
  }

  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): Tensor {
    this.check('layerNorm', x, weight, bias);
    checkFloat('layerNorm', x);
    checkSameDType('layerNorm', x, weight);
    if (bias) checkSameDType('layerNorm', x, bias);
    if (x.rank < 1) throw new ShapeMismatchError('layerNorm: x must have at least one dimension.');
    const d = x.shape[x.rank - 1];
    checkLength('layerNorm', weight, d, 'weight');
    if (bias) checkLength('layerNorm', bias, d, 'bias');
    const eps = checkFiniteNumber('layerNorm', 'eps', options?.eps);
    if (eps < 0) throw new InvalidArgumentError(`layerNorm: eps must not be negative but is ${eps}.`);
    if (typeof options.subtractMean !== 'boolean') throw new InvalidArgumentError('layerNorm: options.subtractMean must be a boolean.');
    const inputs = [x, weight, bias];
    const parts = inputs.map((t) => (t ? this.packed(t) : null));
    const [xc, wc, bc] = parts;
    const out = this.empty(x.shape, x.dtype);
    try {
      N.layerNorm(
        this.arr(xc!) as FloatArray, xc!.offset, d === 0 ? 0 : x.numel / d, d,
        this.arr(wc!) as FloatArray, wc!.offset, bc ? (this.arr(bc) as FloatArray) : null, bc ? bc.offset : 0,
        this.arr(out) as FloatArray, 0, eps, options.subtractMean,
      );
    } finally {
      this.release(parts, inputs);
    }
    return out;
  }

  gelu(x: Tensor): Tensor {
    this.check('gelu', x);
    checkFloat('gelu', x);
    const xc = this.packed(x);
    const out = this.empty(x.shape, x.dtype);
    try {
      N.gelu(this.arr(xc) as FloatArray, xc.offset, this.arr(out) as FloatArray, 0, x.numel);
    } finally {
      if (xc !== x) xc.dispose();
    }
    return out;
  }

  softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
    const { bias, distanceBias, keyBias } = options;
    this.check('softmax', x, bias, distanceBias, keyBias);
    checkFloat('softmax', x);
    checkRank('softmax', x, 2, 3);
    const scale = checkFiniteNumber('softmax', 'scale', options.scale ?? 1);
    const causal = options.causalOffset === undefined ? null : checkInteger('softmax', 'causalOffset', options.causalOffset);
    const batch = x.rank === 3 ? x.shape[0] : 1;
    const [rows, cols] = x.shape.slice(-2);
    let biasBatchStride = 0;
    let biasRowStride = 0;
    if (bias) {
      // x's shape, or x's without its leading dimension (broadcast over it).
      checkSameDType('softmax', x, bias);
      const inner = x.shape.slice(1);
      const full = bias.rank === x.rank && bias.shape.every((d, i) => d === x.shape[i]);
      const broadcast = bias.rank === inner.length && bias.shape.every((d, i) => d === inner[i]);
      if (!full && !broadcast) {
        throw new ShapeMismatchError(
          `softmax: bias must have x's shape ${shapeToString(x.shape)} or ${shapeToString(inner)} but has ${shapeToString(bias.shape)}.`,
        );
      }
      if (x.rank === 3) {
        biasBatchStride = full ? rows * cols : 0;
        biasRowStride = cols;
      } else {
        biasRowStride = full ? cols : 0;
      }
    }
    checkScoreBias('softmax', x, x.shape, options);
    const xc = this.packed(x);
    // A bias by distance is read in place: row r of batch b starts at column rows - 1 - r of its row b.
    const bc = bias ? this.packed(bias) : distanceBias ? this.packed(distanceBias) : null;
    let biasOffset = bc ? bc.offset : 0;
    if (distanceBias) {
      biasOffset += rows - 1;
      biasBatchStride = x.rank === 3 ? rows + cols - 1 : 0;
      biasRowStride = -1;
    }
    const kc = keyBias ? this.packed(keyBias) : null;
    const out = this.empty(x.shape, x.dtype);
    try {
      N.softmax(
        this.arr(xc) as FloatArray, xc.offset, batch, rows, cols, this.arr(out) as FloatArray, 0, scale, causal,
        bc ? (this.arr(bc) as FloatArray) : null, biasOffset, biasBatchStride, biasRowStride,
        kc ? (this.arr(kc) as FloatArray) : null, kc ? kc.offset : 0,
      );
    } finally {
      if (xc !== x) xc.dispose();
      if (bc && bc !== bias && bc !== distanceBias) bc.dispose();
      if (kc && kc !== keyBias) kc.dispose();
    }
    return out;
  }

  /** Backend.attention as its composition (gemm, softmax, gemm, contiguous): the reference for CUDA's kernel. */
  attention(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor {
    this.check('attention', q, keys, values, options?.bias, options?.distanceBias, options?.keyBias);
    checkAttention(q, keys, values, options);
    return attentionByParts(this, q, keys, values, options);
  }

  embedding(ids: Tensor, table: Tensor): Tensor {
    this.check('embedding', ids, table);
    checkDType('embedding', ids, 'int32');
    checkRank('embedding', table, 2);
    const [vocab, d] = table.shape;
    const idc = this.packed(ids);
    const tc = this.packed(table);
    try {
      const idArr = this.arr(idc) as Int32Array;
      // A recorded step's ids are written (and checked by the host) before each run, not now; an id out
      // of range gives a row of zeros there.
      for (let i = 0; i < ids.numel && !capturing; i++) {
        const id = idArr[idc.offset + i];
        if (id < 0 || id >= vocab) {
          throw new InvalidArgumentError(`embedding: id ${id} (at position ${i}) is out of range for a table of ${vocab} rows.`, {
            hint: 'Token ids must be in [0, vocab); check that the tokenizer matches the model.',
          });
        }
      }
      const out = this.empty([...ids.shape, d], table.dtype);
      N.embedding(idArr, idc.offset, ids.numel, this.arr(tc), tc.offset, vocab, d, this.arr(out), 0);
      return out;
    } finally {
      if (idc !== ids) idc.dispose();
      if (tc !== table) tc.dispose();
    }
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b);
  }

  private binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
    this.check(op, a, b);
    checkFloat(op, a);
    checkSameDType(op, a, b);
    checkBroadcastSuffix(op, a, b);
    const ac = this.packed(a);
    const bc = this.packed(b);
    const out = this.empty(a.shape, a.dtype);
    try {
      N.binary(op, this.arr(ac) as FloatArray, ac.offset, a.numel, this.arr(bc) as FloatArray, bc.offset, b.numel, this.arr(out) as FloatArray, 0);
    } finally {
      if (ac !== a) ac.dispose();
      if (bc !== b) bc.dispose();
    }
    return out;
  }

  // ---- planned steps (see Backend) -----------------------------------------------------------------

  /** Copies data into dst now (never recorded: a step's inputs are written between its runs). */
  write(dst: Tensor, data: HostArray): void {
    this.check('write', dst);
    checkContiguous('write', dst, 'dst');
    this.noHostCopy('write');
    if (!(data instanceof Int8Array || data instanceof Int32Array || data instanceof Uint16Array || data instanceof Float32Array)) {
      throw new InvalidArgumentError('write: data must be an Int8Array, Int32Array, Uint16Array (float16 bits) or Float32Array.');
    }
    if (dtypeOfArray(data) !== dst.dtype) {
      throw new InvalidArgumentError(`write: the data (${dtypeOfArray(data)}) must be of the tensor's dtype (${dst.dtype}).`, {
        hint: 'float16 data is given as Uint16Array bits (toFloat16Array).',
      });
    }
    if (data.length !== dst.numel) {
      throw new ShapeMismatchError(`write: ${data.length} elements cannot fill a tensor of shape ${shapeToString(dst.shape)} (${dst.numel} elements).`);
    }
    (this.view(dst) as Float32Array).set(data as Float32Array);
  }

  scatterRows(src: Tensor, dst: Tensor, index: Tensor): void {
    this.check('scatterRows', src, dst, index);
    const [n, w] = checkScatterRows(src, dst, index);
    if (n === 0 || w === 0) return;
    const sp = w === 1 || src.strides[1] === 1 ? src : this.contiguousCopy(src);
    try {
      N.scatterRows(this.arr(sp), sp.offset, n === 1 ? w : sp.strides[0], n, w, this.arr(dst), dst.offset, dst.shape[0], this.arr(index) as Int32Array, index.offset);
    } finally {
      if (sp !== src) sp.dispose();
    }
  }

  /** Backend.argmaxRows: natively per row, at once or recorded inside a captured step as any op. */
  argmaxRows(x: Tensor, options: { exclude?: number } = {}): Tensor {
    this.check('argmaxRows', x);
    checkDType('argmaxRows', x, 'float32');
    checkRank('argmaxRows', x, 2);
    const exclude = argmaxExclude(options, x.shape[1]);
    const [rows, n] = x.shape;
    const out = this.empty([rows], 'int32');
    if (rows === 0) return out;
    const xp = x.isContiguous() ? x : this.contiguousCopy(x);
    try {
      N.argmaxRows(this.arr(xp) as Float32Array, xp.offset, rows, n, exclude, this.arr(out) as Int32Array, out.offset);
    } finally {
      if (xp !== x) xp.dispose();
    }
    return out;
  }

  attendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): Tensor {
    this.check('attendCache', q, keys, values, lengths, options?.distanceBias, options?.append?.keys, options?.append?.values);
    const { batch, width, heads, slotRows, scale, bias, append } = checkAttendCache(q, keys, values, lengths, options);
    const qp = width <= 1 || q.strides[1] === 1 ? q : this.contiguousCopy(q);
    const out = this.empty([batch, width], q.dtype);
    try {
      N.attendCache(
        this.arr(qp) as FloatArray, qp.offset, batch <= 1 ? width : qp.strides[0], batch, heads, width / heads,
        this.arr(keys) as FloatArray, keys.offset, this.arr(values) as FloatArray, values.offset,
        this.arr(lengths) as Int32Array, lengths.offset, slotRows, scale,
        bias ? (this.arr(bias) as FloatArray) : null, bias ? bias.offset : 0, this.arr(out) as FloatArray, 0,
        append ? (this.arr(append.keys) as FloatArray) : null, append ? append.keys.offset : 0,
        append ? (this.arr(append.values) as FloatArray) : null, append ? append.values.offset : 0,
        append && batch > 1 ? append.keys.strides[0] : width,
      );
    } finally {
      if (qp !== q) qp.dispose();
    }
    return out;
  }

  /**
   * Records the native calls of fn's ops on a tape, without running them, and returns a step that
   * replays them on a worker thread (run()). Inside fn, tensors come and go as usual (fn runs in a
   * tidy() scope: keep() what it makes for later use), but every storage made while it runs stays
   * allocated until the step is disposed, as the tape writes to it on every run. No host reads inside
   * fn: download() and upload() throw, write() too (write a step's inputs between runs). An eager op
   * called while a replay runs waits for the replay to finish.
   */
  captureStep(fn: () => void): StepGraph {
    if (this._disposed) checkInputs('captureStep', true);
    if (typeof fn !== 'function') throw new InvalidArgumentError('captureStep: fn must be a function.');
    if (capturing) throw new InvalidArgumentError('captureStep: a step is already being captured.');
    const tape = new N.Tape();
    N.beginCapture(tape);
    capturing = true;
    let held: { release(): void };
    try {
      held = retainStorages(() => tidy(fn));
    } catch (e) {
      tape.dispose();
      throw e;
    } finally {
      capturing = false;
      N.endCapture();
    }
    return new CpuStepGraph(tape, held);
  }

  dispose(): void {
    this._disposed = true;
    this.pool.dispose();
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  /** Host data cannot be copied in while a step is captured (it would be the data of the capture only). */
  private noHostCopy(op: string): void {
    if (capturing) {
      throw new InvalidArgumentError(`${op}: a step being captured cannot copy from the host.`, {
        hint: "Make its tensors before capturing, and write a step's inputs between its runs.",
      });
    }
  }

  /** The storage array under t (ops pass it with t.offset). */
  private arr(t: Tensor): HostArray {
    return storageArray(t);
  }

  /** t's own elements as a typed array (t must be contiguous). */
  private view(t: Tensor): HostArray {
    const a = storageArray(t);
    return a.subarray(t.offset, t.offset + t.numel) as HostArray;
  }

  /** t itself when packed, else a packed copy (the caller disposes it). */
  private packed(t: Tensor): Tensor {
    return t.isContiguous() ? t : this.contiguousCopy(t);
  }

  private contiguousCopy(t: Tensor): Tensor {
    const out = this.empty(t.shape, t.dtype);
    this.stridedCopy('contiguous', t, storageArray(out), 0, contiguousStrides(t.shape));
    return out;
  }

  /** Copies (converting float16 <-> float32 when the arrays differ) src's elements into a view of dst. */
  private stridedCopy(op: string, src: Tensor, dst: HostArray, dstOffset: number, dstStrides: readonly number[]): void {
    const plan = collapseDims(src.shape, src.strides, dstStrides);
    if (plan.shape.length > 4) {
      throw new InvalidArgumentError(
        `${op}: a view of shape ${shapeToString(src.shape)} with strides ${shapeToString(src.strides)} has more than 4 dimensions that cannot be merged.`,
        { hint: 'Copy it in parts (narrow or select along a leading dimension), or make it contiguous first.' },
      );
    }
    N.copy(storageArray(src), src.offset, plan.srcStrides, dst, dstOffset, plan.dstStrides, plan.shape);
  }

  private release(parts: (Tensor | null)[], inputs: (Tensor | null)[]): void {
    parts.forEach((p, i) => {
      if (p && p !== inputs[i]) p.dispose();
    });
  }
}
