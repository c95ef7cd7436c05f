import type { Device } from './device.js';
import type { DType, HostArray } from './dtype.js';
import type { Shape, Tensor } from './tensor.js';

/**
 * The op set. Every op of every model goes through a Backend; the CPU backend (C++, threads, AVX2)
 * and the CUDA backend (NVRTC kernels, cublasLt) implement the same interface and are tested against
 * each other. Conventions shared by all ops:
 *
 * - Ops validate their arguments (dtype, device, shape, disposed tensors) and throw typed errors from
 *   this package; they never crash the process.
 * - Ops return new tensors that own their storage. Inputs may be views (see Tensor) unless an op says
 *   it needs contiguous inputs; `contiguous()` makes a packed copy.
 * - "float" means float16 or float32. Float ops compute in float32 and round the result to the
 *   output dtype once. Inputs of one op share a dtype unless stated otherwise.
 * - Matrices are row-major. A linear layer's weight is [out, in] (as nn.Linear stores it).
 */
export interface Backend {
  readonly name: 'cpu' | 'cuda';
  readonly device: Device;

  // ---- memory -------------------------------------------------------------------------------
  /** An uninitialised tensor. */
  empty(shape: Shape, dtype: DType): Tensor;
  /** A tensor filled with zeros. */
  zeros(shape: Shape, dtype: DType): Tensor;
  /** Copies host data into a new tensor. float16 data is given as Uint16Array bits. */
  upload(data: HostArray, shape: Shape): Tensor;
  /** Copies a tensor (any strides) into a new packed host array (float16 as Uint16Array bits). */
  download(t: Tensor): HostArray;
  /**
   * Optional: download() into part of an existing array (dst of t's dtype: float16 as Uint16Array
   * bits), at element dstOffset, in packed order, instead of a new one: a caller reading a step's
   * results every step (the planned runners' logits) saves an allocation each time.
   */
  downloadInto?(t: Tensor, dst: HostArray, dstOffset: number): void;
  /** Copies src into dst elementwise (same shape and dtype; either may be a strided view, rank <= 4). */
  copy(src: Tensor, dst: Tensor): void;
  /** A packed copy of x (or x itself, as a new owning tensor, never a view). */
  contiguous(x: Tensor): Tensor;
  /** Converts between float16 and float32 (same dtype: a copy). */
  cast(x: Tensor, dtype: 'float16' | 'float32'): Tensor;
  /** Waits until all queued work on this backend is done. */
  synchronize(): void;

  // ---- quantization and integer GEMM -----------------------------------------------------------
  /**
   * Row quantization exactly as BMInf does it, for x [rows, cols] float (contiguous):
   * scale = absmax(row) / 127, stored as float16; q = clamp(nearbyint(x / scale), -127, 127), where
   * the division uses the stored (float16-rounded) scale; a row of zeros gets scale 0 and q = 0.
   */
  quantizeRows(x: Tensor): { values: Tensor; scales: Tensor };
  /** C[m, n] = sum_k A[m, k] * B[n, k]: int8 x int8 -> int32, exact. A [m, k], B [n, k] contiguous. */
  igemm(a: Tensor, b: Tensor): Tensor;
  /**
   * out[i, j] = acc[i, j] * rowScale[i] * colScale[j] (+ bias[j]), computed in float32 and rounded to
   * `dtype`. acc int32 [m, n]; rowScale float16 [m] (the activations'); colScale float16 [n] (the
   * weight rows'); bias float [n] of the output dtype.
   */
  dequantize(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: 'float16' | 'float32'; bias?: Tensor }): Tensor;
  /**
   * Optional: the whole int8 linear layer, dequantize(igemm(quantizeRows(x), weight), …, weightScale),
   * with the same result bit for bit, where a backend can do better than the three calls (the CUDA
   * backend fuses the dequantize into its Hopper GEMM). x float [n, k] contiguous; weight int8 [m, k]; weightScale
   * float16 [m]; bias float [m] of the output dtype. With residual ([n, m], the output dtype) the result
   * is add(residual, linear), rounded as the two ops would round it (a decode step fuses the two).
   */
  linearInt8?(
    x: Tensor,
    weight: Tensor,
    weightScale: Tensor,
    options: LinearInt8Options,
  ): Tensor;

  // ---- float ops ---------------------------------------------------------------------------------
  /**
   * Batched matrix product with float32 accumulation: out[b] = alpha * op(A[b]) * op(B[b]), where
   * op(X) = X, or Xᵀ when transA/transB. A is [m, k] ([k, m] when transA), B is [k, n] ([n, k] when
   * transB), with the same optional leading batch dimension on both (rank 2 or 3). The last dimension
   * of A and B must have stride 1; rows and batches may be strided (views of a KV cache, of one head).
   * Output [.., m, n] packed, in the inputs' dtype.
   */
  gemm(a: Tensor, b: Tensor, options?: { transA?: boolean; transB?: boolean; alpha?: number }): Tensor;
  /**
   * Normalises over the last dimension: y = (x - mean) / sqrt(var + eps) * weight + bias when
   * subtractMean (LayerNorm, CPM-1), y = x / sqrt(mean(x²) + eps) * weight when not (RMS norm, CPM-2).
   */
  layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): Tensor;
  /** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
  gelu(x: Tensor): Tensor;
  /**
   * Softmax over the last dimension of x [.., rows, cols] (rank 2 or 3), in float32:
   * y = softmax(scale * x + bias) with entries where col > row + causalOffset masked out (when
   * causalOffset is given: the query in row r sits at absolute position causalOffset + r). bias, when
   * given, has x's shape (or x's without the leading dim, broadcast over it); distanceBias and keyBias
   * (ScoreBias) are the same additions without their copies over rows and columns.
   */
  softmax(x: Tensor, options?: SoftmaxOptions): Tensor;
  /**
   * Optional: scaled dot-product attention of every head at once, for q [heads, n, headDim] over keys
   * and values [heads, L, headDim] (views with a unit last stride, such as one head's columns of a
   * [n, heads*headDim] projection or of a fused [n, 3·heads*headDim] q|k|v, are read in place):
   * softmax(scale·q·kᵀ + bias, keys after position causalOffset + row masked)·v, returned packed as
   * [n, heads*headDim] (the heads side by side, as the output projection takes them). bias: ScoreBias's
   * terms, of q's dtype. A row with no visible key gives zeros. The result is that of attentionByParts
   * (gemm, softmax, gemm, contiguous), which the CPU backend runs; a fused kernel (CUDA, float16)
   * keeps the scores in float32 instead of rounding them, so it differs within float16's rounding.
   */
  attention?(q: Tensor, keys: Tensor, values: Tensor, options: AttentionOptions): Tensor;
  /** Rows of table [vocab, d] for ids int32 [n] -> [n, d]. Ids out of range are an error. */
  embedding(ids: Tensor, table: Tensor): Tensor;
  /** a + b, where b has a's shape or a suffix of it (broadcast over the leading dimensions). */
  add(a: Tensor, b: Tensor): Tensor;
  /** a * b, broadcasting as add does. */
  mul(a: Tensor, b: Tensor): Tensor;

  // ---- planned steps -------------------------------------------------------------------------------
  // A model's step (a decode step of several sequences, a prefill, an encoder pass) is planned once:
  // its buffers at fixed addresses, its ops recorded by captureStep, and then run again and again with
  // new inputs written into the same tensors. These ops read what changes from step to step (token
  // positions, cache lengths) from tensors, never from their arguments, so one recording serves every step.

  /**
   * Greedy decoding's pick per row: for x [rows, n] float32 packed, int32 [rows] holding the lowest
   * index of each row's largest value (NaN never chosen; -1 where every value is NaN or -Infinity), as
   * the host's argmax does. Optional. A step op on both backends (recorded inside a captured step like
   * any other), so a greedy decode step sends back a few ids instead of rows of logits. `exclude`: a
   * column never chosen (CPM-2's generation never picks <unk>).
   */
  argmaxRows?(x: Tensor, options?: { exclude?: number }): Tensor;
  /** Copies host data into an existing packed tensor of the same dtype and element count. */
  write(dst: Tensor, data: HostArray): void;
  /**
   * dst[index[i], :] = src[i, :], for src [n, w] (last dimension contiguous; rows may be strided, e.g.
   * a column block of a wider tensor), dst [R, w] packed of src's dtype, index int32 [n] packed.
   * Indices outside [0, R) are skipped: the host checks them before it writes them, and no op of a
   * step reads data back to the host.
   */
  scatterRows(src: Tensor, dst: Tensor, index: Tensor): void;
  /**
   * One query per sequence attending over its cached keys and values (a decode step). q [B, H*D]
   * (last dimension contiguous; rows may be strided), keys and values [B * slotRows, H*D] packed, where
   * sequence b's cached positions are rows b*slotRows … b*slotRows + L_b - 1, L_b = clamp(lengths[b], 0,
   * slotRows); lengths int32 [B]. For each b and head h:
   *   out[b, h*D + e] = Σ_{j<L_b} p_j · values[b*slotRows + j, h*D + e],
   *   p = softmax_j(scale · q[b, h*D:(h+1)*D] · keys[b*slotRows + j, h*D:(h+1)*D] + bias[h, L_b - 1 - j]),
   * with bias = distanceBias [H, slotRows] (q's dtype; T5's relative position bias by distance from the
   * query) or 0. A sequence with L_b = 0 gets zeros. Computed in float32; out [B, H*D] packed, q's dtype.
   */
  attendCache(q: Tensor, keys: Tensor, values: Tensor, lengths: Tensor, options: AttendCacheOptions): Tensor;
  /**
   * Records the ops `fn` issues as a step that run() replays off the JS thread (a CUDA graph on the
   * GPU; a tape of native calls on the CPU), with every tensor made while fn runs kept alive by the
   * step until it is disposed. fn's ops may or may not also run now: read results only after run().
   * Inside fn no op may read data back to the host (download throws).
   */
  captureStep(fn: () => void): StepGraph;

  /**
   * Streaming weights from pinned host memory on a second stream (the CUDA backend; see
   * packages/models/src/streaming). Absent where the backend cannot: the CPU computes from host memory.
   */
  readonly streaming?: WeightStreaming;

  /** Frees what the backend holds (pools, handles). Tensors it made must not be used afterwards. */
  dispose(): void;
}

/** Backend.linearInt8's options. */
export interface LinearInt8Options {
  dtype: 'float16' | 'float32';
  bias?: Tensor;
  residual?: Tensor;
  /**
   * x is first RMS-normalised: layerNorm(x, weight, null, { eps, subtractMean: false }) (a decode
   * step fuses the norm into the int8 linear's quantization; the sum of squares may be added in
   * another order than layerNorm's).
   */
  rmsNorm?: { weight: Tensor; eps: number };
  /**
   * x is first layer-normalised: layerNorm(x, weight, bias ?? null, { eps, subtractMean: true })
   * (GPT-2's LayerNorm; fused like rmsNorm, its sums added in another order). Not with rmsNorm.
   */
  layerNorm?: { weight: Tensor; bias?: Tensor; eps: number };
  /** The output is gelu(y) of the linear's y (bias included), rounded as gelu() would; the residual after. Not with gated. */
  gelu?: boolean;
  /**
   * weight is a gated FFN's stacked [in; gate] rows [2f, k]: the result is mul(gelu(y[:, :f]),
   * y[:, f:]) of the linear's y [n, 2f] (bias included), each op rounding as it would alone; the
   * residual, [n, f], is added after.
   */
  gated?: boolean;
}

/**
 * What is added to the scores before a softmax over keys (Backend.softmax, Backend.attention), for
 * scores [heads, n, L] (query i, key j): bias[h, i, j] + distanceBias[h, j - i + n - 1] + keyBias[j],
 * each in the scores' dtype, the terms given added in float32. distanceBias is a bias that depends only
 * on the distance j - i (T5's relative positions: [heads, n + L - 1] instead of its n·L copies of the
 * same values, which an encoder of 512 tokens and 64 heads would read as 33.5 MB a layer); keyBias one
 * that depends only on the key (padding masked as -Infinity). bias and distanceBias exclude each other.
 * (CUDA's softmax, outside the fused attention, first makes the terms one bias of the dtype: their sum
 * rounded once more, exact where keyBias is 0 or -Infinity.)
 */
export interface ScoreBias {
  /** [heads, n, L] (softmax: x's shape, or x's without its leading dimension). */
  bias?: Tensor;
  /** [heads, n + L - 1] (softmax over x [rows, cols]: [rows + cols - 1]): column j - i + n - 1 for query i, key j. */
  distanceBias?: Tensor;
  /** [L]: added to every query's score of key j. */
  keyBias?: Tensor;
}

/** Backend.softmax's options. */
export interface SoftmaxOptions extends ScoreBias {
  scale?: number;
  causalOffset?: number;
}

/** Backend.attention's options. */
export interface AttentionOptions extends ScoreBias {
  /** Multiplies q·k (1/√headDim for GPT-2, 1 for T5). */
  scale: number;
  /** Causal masking: the query in row r sits at absolute position causalOffset + r (keys start at 0). */
  causalOffset?: number;
}

export interface AttendCacheOptions {
  /** H: q's width is H * D. */
  heads: number;
  scale: number;
  /** Rows of keys/values per sequence (the cache's length). */
  slotRows: number;
  distanceBias?: Tensor;
  /**
   * The new position's key and value rows, [B, H*D] each (q's dtype, rows' elements contiguous, one row
   * stride for both): row b is written to position L_b - 1 of sequence b's cache (rows b*slotRows +
   * L_b - 1 of keys and values) before the attention reads it, where L_b ≥ 1. A decode step's cache write
   * and its attention in one op, as scatterRows then attendCache with index b*slotRows + L_b - 1.
   */
  append?: { keys: Tensor; values: Tensor };
}

/**
 * A recorded step (Backend.captureStep). run() resolves when the step's ops are done; until then the
 * caller must not write the step's inputs or read its outputs. Runs of one step never overlap.
 */
export interface StepGraph {
  run(): Promise<void>;
  readonly disposed: boolean;
  /** Frees the recording and the tensors it keeps alive. */
  dispose(): void;
}

/** Page-locked host memory that a device copy can read at the bus's full speed (and from a CUDA graph). */
export interface PinnedBuffer {
  readonly byteLength: number;
  readonly released: boolean;
  /** Copies bytes in at a byte offset. */
  write(byteOffset: number, data: ArrayBufferView): void;
  /** Copies a device tensor's bytes in at a byte offset (after the work queued so far). */
  writeFrom(byteOffset: number, t: Tensor): void;
  /** Copies bytes out (after queued copies). */
  read(byteOffset: number, out: ArrayBufferView): void;
  /** Gives the memory back (after queued copies from it). */
  release(): void;
}

/** Orders the compute stream and the copy stream (a CUDA event without timing). */
export interface Fence {
  readonly handle: unknown;
}

/** See Backend.streaming. */
export interface WeightStreaming {
  pinned(bytes: number): PinnedBuffer;
  fence(): Fence;
  /** Marks the work queued so far on the compute stream. */
  signal(fence: Fence): void;
  /** The compute stream waits for the fence before its next work. */
  wait(fence: Fence): void;
  /**
   * On the copy stream: waits for `after`, copies dst.byteLength bytes of src from srcOffset into dst
   * (a contiguous device tensor), then marks `ready`.
   */
  copyIn(src: PinnedBuffer, srcOffset: number, dst: Tensor, after: Fence, ready: Fence): void;
  /** Waits for every queued copy. */
  synchronizeCopies(): void;
  /** Pinned bytes and buffers alive in this process. */
  pinnedStats(): { bytes: number; buffers: number };
}
