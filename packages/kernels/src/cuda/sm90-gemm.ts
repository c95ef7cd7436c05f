// The Hopper GEMM kernel (packages/kernels/cuda/igemm_sm90.cu): wgmma + TMA, int8 x int8 with either
// the int32 sums or the int8 linear layer's dequantize fused into the epilogue (float16 out). Compiled
// on first use, for compute capability 9.0 only; where it cannot be built (another GPU, an NVRTC or
// driver without sm_90a / tensor maps) `unavailable` says why and the backend keeps cublasLt.
import type { Tensor } from '@bminf/core';
import { type DeviceRegion, type DeviceSpan, type KernelFunction, type LaunchArg, mapNativeError, type NativeCuda, type TensorMap } from '@bminf/cuda-binding';
import { compileSm90Kernels, type CompiledModule } from './compiler.js';

/**
 * The kernel's tile shapes (SM90_KERNELS in igemm_sm90.cu): token rows and features per block, stages,
 * and split: the blocks of a thread-block cluster that share one tile, each running 1/split of the K
 * steps, the partial tiles summed through distributed shared memory. 't' is for 128-511 tokens at
 * products that give 'a' too few blocks: one block per 128 x 256 tile leaves most SMs idle there, and
 * 'b' reads the operands from L2 too often (NOTES.md). 'a2' is 'a' split the same way, for products with
 * many tokens but few 128 x 256 tiles (CPM-2's encoder FFN out: [512, 10240] x [4096, 10240] is 64 tiles,
 * 128 blocks as 'a2').
 */
export type Sm90Tile = 'a' | 'b' | 't' | 'a2';
const TILES: Record<Sm90Tile, { bm: number; bn: number; stages: number; split: number }> = {
  a: { bm: 128, bn: 256, stages: 4, split: 1 },
  b: { bm: 64, bn: 128, stages: 8, split: 1 },
  t: { bm: 128, bn: 128, stages: 6, split: 2 },
  a2: { bm: 128, bn: 256, stages: 4, split: 2 },
};
/** Every tile, as the tuner times them for the fused linear (RoutePolicy.fusedTileTune; a tie keeps the earlier). */
export const SM90_TILES: readonly Sm90Tile[] = ['a', 't', 'b', 'a2'];
/** Below 512 tokens, tile 'a' where its blocks fill at least this share of the SMs (else 't' or 'b'). */
const SM_FILL = 0.5;
/** Shared memory per block: the stages, the barriers, 1 KiB to align the stages. */
const smemOf = (t: Sm90Tile): number => TILES[t].stages * (TILES[t].bm + TILES[t].bn) * 128 + 16 * TILES[t].stages + 1024;
/** Activation tensor maps kept (keyed by address and shape; a model reuses a few pool addresses). */
const ACTIVATION_MAPS = 256;

export class Sm90Gemm {
  private module: CompiledModule | null = null;
  private reason: string | null = null;
  private readonly fns = new Map<string, KernelFunction>();
  /** Tensor maps of weights, made once per weight tensor. */
  private readonly weightMaps = new WeakMap<Tensor, Map<number, TensorMap>>();

  constructor(
    private readonly native: NativeCuda,
    private readonly computeCapability: readonly number[],
    private readonly nvrtcVersion: readonly number[],
    private readonly smCount: number,
    private readonly span: (t: Tensor) => DeviceSpan,
  ) {
    if (computeCapability[0] !== 9 || computeCapability[1] !== 0) this.reason = `the GPU is sm_${computeCapability.join('')}, not sm_90`;
    else if (!native.tensorMap2d) this.reason = 'the addon has no tensorMap2d';
    else if (process.env.BMINF_SM90 === '0') this.reason = 'BMINF_SM90=0';
  }

  /** Why the kernel cannot run here (null once it compiled, or before the first try on sm_90). */
  get unavailable(): string | null {
    return this.reason;
  }

  /** True when the kernel is (or can be) built; compiles it on the first call. */
  ready(): boolean {
    if (this.reason) return false;
    if (!this.module) {
      try {
        this.module = compileSm90Kernels(this.native, this.nvrtcVersion);
      } catch (e) {
        this.reason = `compiling igemm_sm90.cu failed: ${(e as Error).message.split('\n')[0]}`;
        if (process.env.BMINF_LT_LOG) console.error(`[bminf] ${this.reason}\n${(e as Error).message}`);
        return false;
      }
    }
    return true;
  }

  /**
   * Whether x [T, K] and w [M, K] (packed int8, 16-byte aligned) suit the kernel: K a multiple of 16
   * (TMA's row stride), M a multiple of 8 (16-byte stores of 8 float16 or 4 int32 outputs).
   */
  fits(x: Tensor, w: Tensor): boolean {
    const [, k] = x.shape;
    const m = w.shape[0];
    return k % 16 === 0 && m % 8 === 0 && k > 0 && this.span(x).byteOffset % 16 === 0 && this.span(w).byteOffset % 16 === 0;
  }

  private fn(name: string, tile: Sm90Tile): KernelFunction {
    let f = this.fns.get(name);
    if (!f) {
      f = this.native.getFunction((this.module as CompiledModule).module, name);
      this.native.setMaxDynamicShared(f, smemOf(tile));
      this.fns.set(name, f);
    }
    return f;
  }

  /**
   * The tile shape for T tokens and M features (where the tuner does not time them): 'a' (128 x 256)
   * where its blocks fill at least SM_FILL of the GPU's SMs; from 512 tokens 'a2' ('a' split-K over 2
   * blocks) where they do not; else 't' (128 x 128, split-K over 2 blocks) from 128 tokens, 'b' (64 x
   * 128) below. `tile` overrides (benchmarks, tests).
   */
  tileFor(t: number, m: number): Sm90Tile {
    if (this.tile) return this.tile;
    if (Math.ceil(t / 128) * Math.ceil(m / 256) >= this.smCount * SM_FILL) return 'a';
    // From 512 tokens 'a' beat 't' and 'b' at every CPM-2 shape measured ('b' reads the weights from L2
    // twice as often), and 'a2' beat 'a' where 'a' gives 64 blocks: 54 against 71 us at [512, 10240] x
    // [4096, 10240], 31 against 35 at 4096 x 4096 (H100; bench-linear.mjs's encoder shapes); at 12288 x 4096 (192
    // blocks) 'a' stays, 66 against 72.
    if (t >= 512) return 'a2';
    // 4096 x 4096 with 128 and 256 tokens (H200): 't' 12.9 and 13.2 us, 'b' 16.1 and 16.3, 'a' 27.
    return t >= 128 ? 't' : 'b';
  }
  tile: Sm90Tile | null = null;

  private map(t: Tensor, boxRows: number): TensorMap {
    const s = this.span(t);
    const [rows, k] = t.shape;
    return this.native.tensorMap2d(s.region, s.byteOffset, rows, k, k, boxRows, 128);
  }

  /**
   * The activations' map, reused while the same address, shape and box come again (a map depends on
   * nothing else, and keeps its region alive; encoding one costs host time on every call otherwise).
   */
  private activationMap(x: Tensor, boxRows: number): TensorMap {
    const s = this.span(x);
    let maps = this.activationMaps.get(s.region);
    if (!maps) {
      maps = new Map();
      this.activationMaps.set(s.region, maps);
    }
    const key = `${s.byteOffset}:${x.shape[0]}:${x.shape[1]}:${boxRows}`;
    let m = maps.get(key);
    if (!m) {
      if (maps.size >= ACTIVATION_MAPS) maps.clear();
      m = this.map(x, boxRows);
      maps.set(key, m);
    }
    return m;
  }
  /** Per device region (the backend's reservation): activation maps by offset, shape and box. */
  private readonly activationMaps = new WeakMap<DeviceRegion, Map<string, TensorMap>>();

  private weightMap(w: Tensor, rows: number): TensorMap {
    let maps = this.weightMaps.get(w);
    if (!maps) {
      maps = new Map();
      this.weightMaps.set(w, maps);
    }
    let m = maps.get(rows);
    if (!m) {
      m = this.map(w, rows);
      maps.set(rows, m);
    }
    return m;
  }

  private launch(kind: 'igemm' | 'linear' | 'linear_gated', x: Tensor, w: Tensor, tileAsked: Sm90Tile | undefined, sig: string, args: LaunchArg[]): void {
    const t = x.shape[0];
    const m = w.shape[0];
    const tile = tileAsked ?? this.tileFor(t, m);
    const { bm, bn, split } = TILES[tile];
    const name = `${kind}_sm90_${tile}`;
    // gated: a tile's bn weight rows are bn / 2 in rows and their gate rows (two boxes of bn / 2), as many tiles as bn-row tiles of w
    const grid = Math.ceil(t / bm) * Math.ceil(m / bn) * split;
    try {
      // Replayed from a CUDA graph where the same launch repeats (the host's time to launch a cluster
      // kernel with two tensor maps, ~11 us on the H200 VM, is near the GPU's at 256 rows).
      this.native.launch(this.fn(name, tile), [grid, 1, 1], [384, 1, 1], smemOf(tile), sig, [
        this.activationMap(x, bm), this.weightMap(w, kind === 'linear_gated' ? bn / 2 : bn), ...args,
      ], true);
    } catch (e) {
      throw mapNativeError(e, name);
    }
  }

  /** out [T, M] int32 = x [T, K] · w [M, K]ᵀ (all packed; the caller checked fits()); tileFor's tile unless given. */
  igemm(x: Tensor, w: Tensor, out: Tensor, tile?: Sm90Tile): void {
    this.launch('igemm', x, w, tile, 'ttpiii', [...this.spanArgs(out), x.shape[0], w.shape[0], x.shape[1]]);
  }

  /** A tensor as a kernel's pointer argument: its (region, byteOffset, byteLength). */
  private spanArgs(t: Tensor): LaunchArg[] {
    const s = this.span(t);
    return [s.region, s.byteOffset, s.byteLength];
  }

  /**
   * y [T, M] float16 = dequantize(x · wᵀ, xs [T], ws [M], bias [M] float16 or none), then gelu(y) and
   * residual + y ([T, M] float16, packed, 16-byte aligned) where `epilogue` asks, each rounded as the op.
   */
  linear(x: Tensor, xs: Tensor, w: Tensor, ws: Tensor, bias: Tensor | undefined, y: Tensor, epilogue: { gelu?: boolean; residual?: Tensor; tile?: Sm90Tile } = {}): void {
    const { gelu, residual, tile } = epilogue;
    this.launch('linear', x, w, tile, 'ttpppipiipiii', [
      ...this.spanArgs(xs), ...this.spanArgs(ws), ...this.spanArgs(bias ?? ws), bias ? 1 : 0, ...this.spanArgs(residual ?? ws), residual ? 1 : 0, gelu ? 1 : 0, ...this.spanArgs(y), x.shape[0], w.shape[0], x.shape[1],
    ]);
  }

  /**
   * The gated FFN's input: w = stacked [in; gate] rows [2f, K] (ws, bias [2f]; f % 8 == 0), y [T, f] float16
   * = half(half(gelu(in)) * gate) of the dequantized sums, + residual [T, f] where given, each rounded as
   * gelu, mul and add round it: gelu_mul's bits without the [T, 2f] product's round trip through memory.
   */
  linearGated(x: Tensor, xs: Tensor, w: Tensor, ws: Tensor, bias: Tensor | undefined, y: Tensor, residual?: Tensor, tile?: Sm90Tile): void {
    this.launch('linear_gated', x, w, tile, 'ttpppipipiii', [
      ...this.spanArgs(xs), ...this.spanArgs(ws), ...this.spanArgs(bias ?? ws), bias ? 1 : 0, ...this.spanArgs(residual ?? ws), residual ? 1 : 0, ...this.spanArgs(y), x.shape[0], w.shape[0] / 2, x.shape[1],
    ]);
  }
}
