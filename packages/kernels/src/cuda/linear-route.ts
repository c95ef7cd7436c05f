// The one place that decides how the CUDA backend runs an int8 product: `igemmRoute` for igemm (int32
// out) and `linearRoute` for the int8 linear layer (quantize, product, dequantize, float16 out). Both are
// pure: they read shapes, dtypes and alignment, the policy, and (lazily) whether the Hopper kernel can
// take the operands; where two kernels must be timed against each other they say so, and the tuner
// (tuner.ts) times them. The backend runs the route it is given. Why each threshold is what it is:
// packages/kernels/cuda/NOTES.md.
import type { LinearInt8Options, Tensor } from '@bminf/core';
import { ROW_VEC_MAX_COLS } from './row-vec.js';

/** What the routes may take, with the product's defaults in DEFAULT_ROUTE_POLICY. Tests and benchmarks change it to force a route. */
export interface RoutePolicy {
  /** Products with at most this many rows (tokens) run the dp4a GEMV kernels (1–8; 0: never). */
  gemvMaxRows: number;
  /**
   * The GEMV linear layer (linearInt8 for at most gemvMaxRows rows) runs on the tensor cores
   * (linear_mma) from this many rows where its shapes allow, below on dp4a (linear_gemv). 0 or more than 8: never.
   * Where the 'mma-q' route takes the rows (mmaQuantizedMinRows), it goes first.
   */
  gemvMmaMinRows: number;
  /**
   * An int8 linear of more rows than the GEMV takes, up to this many (at most 32; 0: never), runs as the
   * quantize (its norm fused, in linear_gemv's order) and linear_mma_q: the tensor cores on the
   * quantized rows with the dequantize, GELU or gated GELU·gate and residual in its epilogue (2 kernels,
   * not the three calls' 3-5, and no int32 product in memory).
   */
  mmaQuantizedMaxRows: number;
  /**
   * From this many rows the 'mma-q' route takes the linear where the GEMV linears would too (their one
   * kernel quantizes every row in every block, linear_mma's 8 rows from L2 in each of its 132 blocks).
   * From 2: batch 8 decodes 13-22 % faster than with linear_mma (H100, gpu-e2e, NOTES.md); batch 1 stays
   * with linear_gemv, where the row is 8 KiB and one kernel less counts.
   */
  mmaQuantizedMinRows: number;
  /** linear_gemv's k split (1, 2, 4, 8 warps a unit); 0: linearGemvSplit chooses (or the tuner, gemvTune). Benchmarks force it. */
  gemvSplitK: number;
  /** linear_mma's tiles a group (1, 2, 4, 8; at most the weight's tiles of 16 rows); 0: linearMmaTiles chooses (or the tuner, gemvTune). Tests force it. */
  gemvMmaTiles: number;
  /**
   * The GEMV linear's launch (linear_gemv's k split, linear_mma's tiles a group) is timed at plan time
   * among gemvLinearConfigs' candidates, which all compute the same bits; false: the heuristics'
   * choice (linearGemvSplit, linearMmaTiles) untimed. The heuristics count rounds and bytes per block;
   * what the memory system makes of a grid of 80 blocks against 132 (CPM-1's 2560-wide products at
   * 8 rows) they cannot know.
   */
  gemvTune: boolean;
  /**
   * The GEMV linears (linear_gemv, linear_mma) load their weights past L1 (ld.global.nc.L1::no_allocate),
   * so that the weights streaming through do not push out of L1 the activation rows that the kernels'
   * quantize phase reads two or three times (8 rows of 10 240 halves at CPM-2's FFN output: 160 KiB).
   */
  weightsPastL1: boolean;
  /**
   * One-row GEMV linears (linear_gemv at 1 row) and unsplit attentions over the cache that follow one another
   * run as phases of one cooperative launch (decode_phases, phases.cu) with a grid barrier between them,
   * this many blocks an SM (2 or 3; 0: each its own kernel). The same bodies, so the same bits.
   */
  decodePhases: number;
  /**
   * decode_phases is launched cooperatively (the driver starts every block at once or fails the launch);
   * false: an ordinary launch, whose grid (decodePhases blocks an SM, within its launch bounds and shared
   * memory) stays resident all the same when nothing else runs on the GPU.
   */
  decodePhasesCooperative: boolean;
  /** attend_cache_f16v8's blocks a (sequence, head) pair at most (0: attendCacheSplits chooses). Benchmarks force it. */
  attendSplitMax: number;
  /**
   * The backend's own kernels are launched as programmatic dependents (sm_90+): each may start while the
   * kernel before it finishes (its weights in flight, NOTES.md); every kernel waits for its predecessor
   * before it touches data (PDL_ENTRY in prelude.cuh). false: ordinary launches.
   */
  dependentLaunch: boolean;
  /** igemm with more rows than the GEMV takes: 'auto' times cublasLt against the Hopper tiles from igemmSm90MinRows to igemmSm90MaxRows rows; 'cublaslt' and 'sm90' force one. */
  igemmKernel: 'auto' | 'cublaslt' | 'sm90';
  igemmSm90MinRows: number;
  igemmSm90MaxRows: number;
  /** The int8 linear layer may run as quantize + the Hopper kernel with the dequantize in its epilogue. */
  fusedLinear: boolean;
  fusedLinearMinRows: number;
  /** false: the fused kernel wherever it fits, without timing it against the three calls. */
  fusedLinearTune: boolean;
  /**
   * Where the fused kernel is timed against the three calls (fusedLinearTune), each of its tiles is timed
   * (Tuner.fusedTile) instead of only Sm90Gemm.tileFor's: at 512 tokens tileFor always takes 'a', whose
   * 64 tiles fill half the SMs at 4096 outputs (CPM-2's encoder o and FFN-out products).
   */
  fusedTileTune: boolean;
  /** The fused kernel's epilogue applies the linear's GELU and residual add (false: they run as ops after it). */
  fusedEpilogue: boolean;
  /**
   * A gated linear beyond 8 rows runs the gated Hopper kernel (linear_gated_sm90: GELU·gate in its
   * epilogue); false: the plain fused kernel, then gelu_mul. Off until 2026-12-06: its 'a' tile's wgmma
   * were serialized (ptxas C7515: the accumulators' zeroing moves), and CPM-2's encoder FFN input took
   * 306 us a layer against ~177 for the plain kernel and gelu_mul (H200). With the first product
   * overwriting the accumulators instead (igemm_sm90.cu), CPM-2's encoder ran 68 701-69 906 tokens/s with
   * it against 64 703-65 342 without (H100, gpu-e2e, NOTES.md).
   */
  gatedEpilogue: boolean;
  /** A norm before an int8 linear of more rows than the GEMV takes runs fused with its quantize (norm_quantize), not as layerNorm then quantizeRows. */
  normQuantize: boolean;
}

export const DEFAULT_ROUTE_POLICY: Readonly<RoutePolicy> = {
  gemvMaxRows: 8,
  // At 8 rows linear_gemv's dp4a work set the pace, not its weight reads (NOTES.md).
  gemvMmaMinRows: 2,
  // CPM-2's batch 32: 6 418-6 646 tokens/s against 6 198 with the three calls (H100, gpu-e2e, NOTES.md)
  mmaQuantizedMaxRows: 32,
  // batch 8, tokens/s (H100, one call, 2 runs against 3): CPM-2 2 359-2 498 against 2 087-2 189, EVA
  // 5 208-5 471 against 4 365-4 421, CPM-1 3 572-3 681 against 2 920-3 136
  mmaQuantizedMinRows: 2,
  // batch 1, tokens/s (H100, 2026-12-07, BENCHMARKS.md): 2 blocks an SM CPM-2 318-322 against 371-373 off, EVA
  // 598-601 against 843-863, CPM-1 482-489 against 591-594; its one-word barrier since is not yet measured
  decodePhases: 0,
  decodePhasesCooperative: true,
  gemvSplitK: 0,
  gemvMmaTiles: 0,
  gemvTune: true,
  // CPM-2's decode graph, two runs each way in one call (H100, 2026-12-05, profile-cpm2 --variants):
  // batch 1 2 545-2 550 us against 2 576-2 608, batch 8 3 369-3 398 against 3 406-3 410; batch 32 even.
  weightsPastL1: true,
  // CPM-2 at batch 1 (64-token inputs, caches planned for 512): 445 tokens/s unsplit, 424 at 2, 418 as
  // attendCacheSplits chooses (profile-cpm2 --variants, H200, NOTES.md)
  attendSplitMax: 1,
  dependentLaunch: true,
  igemmKernel: 'auto',
  // From 128 rows (below, a product is a few us of GPU work and its host time decides; cublasLt's graph
  // replay costs less of it) to 1024 (above, cublasLt's persistent kernels were 5-15 % faster than the
  // Hopper tiles at every CPM-2 shape).
  igemmSm90MinRows: 128,
  igemmSm90MaxRows: 1024,
  fusedLinear: true,
  // From 128 rows the split-K tile 't' fills the GPU at 4096-wide outputs; below, the three calls
  // measured as fast (host-bound). From 1024 rows the fused kernel is 1.1-1.5x faster (H100).
  fusedLinearMinRows: 128,
  fusedLinearTune: true,
  // Every tile a candidate: the tuner keeps whichever times fastest, so no worse than tileFor's tile alone
  // (CPM-2's encoder at 49 k tokens/s on an H100 either way once the tuner timed on warm clocks, NOTES.md).
  fusedTileTune: true,
  fusedEpilogue: true,
  gatedEpilogue: true,
  normQuantize: true,
};

/** The GEMV kernels' row counts: a product of m rows runs the kernel for the next one up. */
export function gemvRows(m: number): 1 | 2 | 4 | 8 {
  return m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8;
}

/**
 * linear_mma's warps per block: 16, one block an SM (128 registers a thread, no spills). 8 warps, two
 * blocks an SM, ran CPM-2's batch-8 decode at 1 713 tokens/s against 2 123 (H100, NOTES.md).
 */
export const LINEAR_MMA_WARPS = 16;

/** linear_mma's dynamic shared memory: the 8 quantized rows, then the double-buffered partial sums of its warps. */
export function linearMmaShared(k: number): number {
  return 8 * k + 2 * LINEAR_MMA_WARPS * 128 * 4;
}

/**
 * Whether linear_mma takes a GEMV linear of this shape (k × out features m; gated: m stacked rows):
 * 64-byte steps of k, tiles of 16 weight rows, and its shared memory within 200 KiB.
 */
/** linear_mma_q's warps a block (one block an SM), tiles of 16 weight rows a warp, and rows at most (groups of 8). */
export const LINEAR_MMA_Q = { warps: 16, tilesPerWarp: 2, maxRows: 32 } as const;

/** linear_mma_q's groups of 8 activation rows (its kernels _b1, _b2 and _b4). */
export function linearMmaQGroups(rows: number): 1 | 2 | 4 {
  return rows <= 8 ? 1 : rows <= 16 ? 2 : 4;
}

/** linear_mma_q's dynamic shared memory: its warps' double-buffered partial sums. */
export function linearMmaQShared(rows: number): number {
  return 2 * LINEAR_MMA_Q.warps * LINEAR_MMA_Q.tilesPerWarp * linearMmaQGroups(rows) * 32 * 16;
}

export function linearMmaFits(rows: number, k: number, m: number, p: RoutePolicy): boolean {
  return p.gemvMmaMinRows > 0 && rows >= p.gemvMmaMinRows && rows <= 8 && k % 64 === 0 && m % 16 === 0 && linearMmaShared(k) <= 200 * 1024;
}

/** Blocks of 256 threads of linear_gemv that stay resident per SM (LINEAR_GEMV_RESIDENT in gemv.cu, its launch bounds). */
export function linearGemvResident(R: number): number {
  return R <= 4 ? 3 : 2;
}

/**
 * linear_gemv's grid and k split: each block takes 8 / ks units of 4 weight rows a round, each unit's k
 * split over ks warps (1, 2, 4, 8). Chosen for the shortest path through one warp: rounds of units over
 * the blocks that stay resident, times the 1 KiB steps of its slice, with half a step for each round's
 * barrier when ks > 1; a tie keeps the smaller ks. `force` (RoutePolicy.gemvSplitK) fixes ks.
 */
export function linearGemvSplit(m: number, k: number, R: number, sms: number, force = 0, resident = linearGemvResident(R)): { ks: number; grid: number } {
  const units = m / 4, steps = Math.ceil(k / 16 / 64), maxBlocks = sms * resident;
  const plan = (ks: number) => {
    const upb = 8 / ks, grid = Math.max(1, Math.min(Math.ceil(units / upb), maxBlocks));
    const rounds = Math.ceil(units / (upb * grid));
    return { ks, grid, cost: rounds * Math.ceil(steps / ks) + (ks > 1 ? rounds / 2 : 0) };
  };
  let best = plan(force || 1);
  if (!force)
    for (const ks of [2, 4, 8]) {
      const c = plan(ks);
      if (c.cost < best.cost) best = c;
    }
  return { ks: best.ks, grid: best.grid };
}

/**
 * linear_mma's tiles per group (its warps split each tile's k over warps / mt of them), of 1, 2, 4, 8:
 * the fewest weight bytes on the busiest block slot (rounds of groups over the `slots` resident blocks,
 * times the group's bytes), then the shortest path through one warp (rounds times its 64-byte k steps),
 * then the larger mt (fewer rounds and barriers).
 */
export function linearMmaTiles(m: number, k: number, slots: number): number {
  const tiles = m / 16, steps = k / 64;
  let best = 1;
  let bestCost: [number, number] = [Infinity, Infinity];
  for (const mt of [1, 2, 4, 8]) {
    if (mt > 1 && mt > tiles) break;
    const rounds = Math.ceil(tiles / (mt * slots));
    const cost: [number, number] = [rounds * mt * steps, rounds * Math.ceil((steps * mt) / LINEAR_MMA_WARPS)];
    if (cost[0] < bestCost[0] || (cost[0] === bestCost[0] && cost[1] <= bestCost[1])) {
      best = mt;
      bestCost = cost;
    }
  }
  return best;
}

/** One launch of the GEMV linear: linear_gemv with ks warps a unit, or linear_mma with mt tiles a group; `grid` blocks. */
export type GemvLinearConfig = { kernel: 'gemv'; ks: number; grid: number } | { kernel: 'mma'; mt: number; grid: number };

/**
 * The launches the GEMV linear may take for rows x k times an [m, k] weight, the heuristics' choice
 * first (the tuner keeps it on a tie, and takes it untimed where it may not time). linear_mma where
 * linearMmaFits says so, else linear_gemv; the other kernel is never a candidate: their fused norms sum in
 * another order, and every candidate must give the same bits. With `p.gemvTune` the other splits of k
 * (gemv: 1, 2, 4, 8 warps a unit, unless p.gemvSplitK fixes it) or tile groups (mma: 1, 2, 4, 8 tiles,
 * no more than there are) follow, unless p.gemvMmaTiles fixes it.
 */
export function gemvLinearConfigs(rows: number, k: number, m: number, sms: number, p: RoutePolicy): GemvLinearConfig[] {
  if (linearMmaFits(rows, k, m, p)) {
    const tiles = m / 16;
    const mma = (mt: number): GemvLinearConfig => ({ kernel: 'mma', mt, grid: Math.min(sms, Math.ceil(tiles / mt)) });
    const first = p.gemvMmaTiles || linearMmaTiles(m, k, sms);
    const rest = p.gemvTune && !p.gemvMmaTiles ? [1, 2, 4, 8].filter((mt) => mt !== first && (mt === 1 || mt <= tiles)) : [];
    return [first, ...rest].map(mma);
  }
  const R = gemvRows(rows);
  const first = linearGemvSplit(m, k, R, sms, p.gemvSplitK);
  const rest = p.gemvTune && !p.gemvSplitK ? [1, 2, 4, 8].filter((ks) => ks !== first.ks).map((ks) => linearGemvSplit(m, k, R, sms, ks)) : [];
  return [first, ...rest].map((c): GemvLinearConfig => ({ kernel: 'gemv', ...c }));
}

// ---- igemm ------------------------------------------------------------------------------------------
/**
 * - 'gemv': the dp4a GEMV kernel (igemv_r*), at the speed of reading the weights.
 * - 'cublaslt': cublasLt through the addon's lean entry (operands already packed and aligned).
 * - 'cublaslt-padded': cublasLt after padding rows to a multiple of 4 and aligning operands (copies).
 * - 'sm90': the Hopper kernel (tile from Sm90Gemm.tileFor).
 * - 'timed': the Hopper tiles or cublasLt, whichever the tuner timed fastest at this shape.
 */
export type IgemmRoute = 'gemv' | 'cublaslt' | 'cublaslt-padded' | 'sm90' | 'timed';

export interface IgemmCall {
  m: number;
  k: number;
  /** A, B (and the caller's output) packed, 4-byte aligned, m, n, k multiples of 4 and n, k > 0: cublasLt's direct entry takes them as they are. */
  direct: boolean;
  /** A and B start 16-byte aligned (the GEMV's vector loads). */
  operands16: boolean;
  /** The output starts 16-byte aligned (the Hopper kernel's stores). */
  out16: boolean;
}

/**
 * What 'timed' times, in order (a tie keeps the earlier): cublasLt, then the Hopper tiles 't', 'b', 'a'
 * (Sm90Gemm's tile shapes).
 */
export const IGEMM_TIMED_CANDIDATES = ['cublaslt', 't', 'b', 'a'] as const;

/** `hopper`: whether the Hopper kernel runs here and fits these operands (compiles it on first use, so asked last). */
export function igemmRoute(c: IgemmCall, p: RoutePolicy, hopper: () => boolean): IgemmRoute {
  if (c.m <= p.gemvMaxRows) return c.k % 16 === 0 && c.operands16 ? 'gemv' : 'cublaslt-padded';
  if (!c.direct) return 'cublaslt-padded';
  if (p.igemmKernel === 'cublaslt') return 'cublaslt';
  if (p.igemmKernel === 'auto' && (c.m < p.igemmSm90MinRows || c.m > p.igemmSm90MaxRows)) return 'cublaslt';
  if (!c.out16 || !hopper()) return 'cublaslt';
  return p.igemmKernel === 'sm90' ? 'sm90' : 'timed';
}

// ---- the int8 linear layer ------------------------------------------------------------------------------
/**
 * How the product of an int8 linear runs:
 * - 'gemv': one kernel for the whole op, norm, GELU or gated GELU and residual included (linear_gemv /
 *   linear_mma in gemv.cu, bit for bit the separate ops but for the norm's order of summing).
 * - 'fused': the Hopper kernel with the dequantize (and LinearPlan.epilogue's ops) in its epilogue.
 * - 'timed': 'fused' or 'three-calls', whichever the tuner timed faster at this shape and epilogue.
 * - 'mma-q': the quantize (quantize_rows_gemv: the norm and the quantize as linear_gemv's one-row kernel
 *   computes them, so a batch gives each row the bits it gets alone), then linear_mma_q (gemv.cu): the
 *   product on the tensor cores with the dequantize and every op after it in its epilogue (2-32 rows).
 * - 'three-calls': igemm (routed by igemmRoute) + dequantize, the ops after it separate.
 */
export type LinearRoute = 'gemv' | 'fused' | 'timed' | 'mma-q' | 'three-calls';

/**
 * An int8 linear with more rows than the GEMV takes is three steps: (1) the norm, if asked, and the
 * quantize; (2) the product with its dequantize; (3) what the product's epilogue did not take, as ops:
 * GELU or the gated GELU·gate, then the residual add. Each step rounds to float16 as the op it stands
 * for does, so every plan gives the same bits (the norm's one exception: `norm` below).
 */
export interface LinearPlan {
  route: LinearRoute;
  /**
   * 'none': quantizeRows(x). 'quantize': norm_quantize (norm.cu), the row normalised in registers and
   * quantized, never stored: bit for bit quantizeRows(layerNorm(x)) where layerNorm takes its
   * vectorised kernel (the same layout: float16, 16-byte aligned, k % 8 == 0); 'op': layerNorm, then
   * quantizeRows (elsewhere; layerNorm's scalar kernel sums in another order). Route 'mma-q' has its own
   * quantize ('none' or 'quantize': quantize_rows_gemv, the norm in it summed as linear_gemv sums it).
   */
  norm: 'none' | 'quantize' | 'op';
  /**
   * What the Hopper kernel's epilogue applies ('fused', and 'timed' where the fused kernel wins): GELU
   * (as gelu() rounds it) or the gated GELU·gate (linear_gated_sm90: as gelu then mul round it; needs
   * f % 8 == 0), then the residual (as add() rounds it). What it does not take runs as ops after.
   */
  epilogue: LinearEpilogue;
}

export interface LinearEpilogue {
  gelu: boolean;
  gated: boolean;
  residual: boolean;
}

export interface LinearCall {
  rows: number;
  k: number;
  m: number;
  /**
   * float16 activations and output, int8 weight [m, k], float16 scales [m], bias [m], residual [rows,
   * m] ([rows, m / 2] gated, m even) and the norm's weight and bias [k] (eps >= 0) where given.
   */
  float16: boolean;
  residual: boolean;
  gelu: boolean;
  gated: boolean;
  norm: 'none' | 'rms' | 'layer';
  /** Every operand packed and 16-byte aligned. */
  packed16: boolean;
}

/** The GEMV linear keeps the quantized activations in shared memory: at most this many bytes (rows × k). */
const GEMV_LINEAR_MAX_BYTES = 96 * 1024;
const NO_EPILOGUE: Readonly<LinearEpilogue> = { gelu: false, gated: false, residual: false };

/** `hopper`: whether the Hopper kernel runs here and fits x and the weight (compiles it on first use, so asked last). */
export function linearRoute(c: LinearCall, p: RoutePolicy, hopper: () => boolean): LinearPlan {
  const gemv = c.rows >= 1 && c.rows <= p.gemvMaxRows && c.k % 16 === 0 && c.m % 4 === 0 && c.rows * c.k <= GEMV_LINEAR_MAX_BYTES;
  const vec = c.float16 && c.packed16 && c.k > 0 && c.k % 8 === 0 && c.k <= ROW_VEC_MAX_COLS;
  const norm = c.norm === 'none' ? 'none' : p.normQuantize && vec ? 'quantize' : 'op';
  // past the GEMV's rows, or from mmaQuantizedMinRows
  const mmaQRows = c.rows >= 1 && c.rows <= Math.min(p.mmaQuantizedMaxRows, LINEAR_MMA_Q.maxRows) && (c.rows > p.gemvMaxRows || c.rows >= p.mmaQuantizedMinRows);
  if (mmaQRows && c.float16 && c.packed16 && c.k > 0 && c.k % 64 === 0 && c.m % 32 === 0) {
    return { route: 'mma-q', norm: c.norm === 'none' ? 'none' : 'quantize', epilogue: { gelu: c.gelu, gated: c.gated, residual: c.residual } };
  }
  if (gemv && c.float16 && c.packed16) return { route: 'gemv', norm: 'none', epilogue: NO_EPILOGUE };
  if (p.fusedLinear && c.float16 && c.packed16 && c.rows >= p.fusedLinearMinRows && hopper()) {
    // the gated kernel writes 8 outputs of [rows, f] at a time; elsewhere the plain one, gelu_mul after it
    const gated = p.gatedEpilogue && c.gated && c.m % 16 === 0;
    const epilogue = p.fusedEpilogue ? { gelu: c.gelu, gated, residual: c.residual && (!c.gated || gated) } : NO_EPILOGUE;
    return { route: p.fusedLinearTune ? 'timed' : 'fused', norm, epilogue };
  }
  return { route: 'three-calls', norm, epilogue: NO_EPILOGUE };
}

/** The facts linearRoute needs, read off the operands (`aligned16`: the tensor's first byte is 16-byte aligned in device memory). */
export function linearCall(x: Tensor, w: Tensor, ws: Tensor, options: LinearInt8Options, aligned16: (t: Tensor) => boolean): LinearCall {
  const { bias, residual, rmsNorm, layerNorm, gated, gelu } = options;
  const rows = x.rank === 2 ? x.shape[0] : 0;
  const k = x.rank === 2 ? x.shape[1] : 0;
  const m = w.rank === 2 ? w.shape[0] : 0;
  const outWidth = gated ? m / 2 : m;
  const normOptions = rmsNorm ?? layerNorm;
  const nw = normOptions?.weight;
  const nb = layerNorm?.bias;
  const vectorK = (t: Tensor | undefined) => !t || (t.dtype === 'float16' && t.rank === 1 && t.shape[0] === k);
  const float16 =
    options.dtype === 'float16' && x.rank === 2 && w.rank === 2 && ws.rank === 1 && x.dtype === 'float16' && w.dtype === 'int8' && ws.dtype === 'float16' &&
    w.shape[1] === k && ws.shape[0] === m && (!gated || m % 2 === 0) &&
    (!bias || (bias.dtype === 'float16' && bias.rank === 1 && bias.shape[0] === m)) &&
    (!residual || (residual.dtype === 'float16' && residual.rank === 2 && residual.shape[0] === rows && residual.shape[1] === outWidth)) &&
    vectorK(nw) && vectorK(nb) && (!normOptions || normOptions.eps >= 0);
  const packed16 = float16 && [x, w, ws, bias, residual, nw, nb].every((t) => !t || (t.isContiguous() && aligned16(t)));
  const norm = rmsNorm ? 'rms' : layerNorm ? 'layer' : 'none';
  return { rows, k, m, float16, residual: !!residual, gelu: !!gelu, gated: !!gated, norm, packed16 };
}

/** Pairs of (sequence, head) the split attention's counters cover (attendCacheSplits is 1 beyond). */
export const ATTEND_SPLIT_MAX_PAIRS = 32768;

/**
 * How many blocks attend_cache_f16v8 spreads each (sequence, head) pair over, splitting its cache of
 * `slotRows` positions (flash-decoding): enough blocks for two per SM, at least 64 positions a block,
 * at most 32 blocks a pair; 1 (no split) where the pairs alone fill the GPU.
 */
export function attendCacheSplits(pairs: number, slotRows: number, sms: number): number {
  if (pairs < 1 || pairs > ATTEND_SPLIT_MAX_PAIRS) return 1;
  return Math.max(1, Math.min(32, Math.ceil((2 * sms) / pairs), Math.ceil(slotRows / 64)));
}
