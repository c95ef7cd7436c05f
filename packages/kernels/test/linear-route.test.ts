// The CUDA backend's route choices for int8 products, as pure decisions (no GPU): these pin the
// product's defaults, so a change to which kernel runs where shows here before it shows in speed.
import { describe, expect, it } from 'vitest';
import {
  ATTEND_SPLIT_MAX_PAIRS,
  DEFAULT_ROUTE_POLICY,
  type IgemmCall,
  attendCacheSplits,
  type RoutePolicy,
  createCpuBackend,
  gemvLinearConfigs,
  gemvRows,
  igemmRoute,
  type LinearCall,
  linearCall,
  linearMmaFits,
  linearMmaTiles,
  linearGemvSplit,
  linearRoute,
  ROW_VEC_MAX_COLS,
  rowVecLaunch,
} from '@bminf/kernels';

const policy = (p: Partial<RoutePolicy> = {}): RoutePolicy => ({ ...DEFAULT_ROUTE_POLICY, ...p });
const call = (m: number, c: Partial<IgemmCall> = {}): IgemmCall => ({ m, k: 4096, direct: true, operands16: true, out16: true, ...c });
const yes = () => true;
const no = () => false;
const never = () => {
  throw new Error('the Hopper kernel was asked about where no route needs it');
};

describe('igemmRoute', () => {
  it('takes the GEMV for up to 8 rows where k % 16 == 0 and the operands are 16-byte aligned, else padded cublasLt', () => {
    for (const m of [1, 3, 8]) expect(igemmRoute(call(m, { direct: false }), policy(), never)).toBe('gemv');
    expect(igemmRoute(call(4, { k: 4100, direct: false }), policy(), never)).toBe('cublaslt-padded');
    expect(igemmRoute(call(4, { operands16: false, direct: false }), policy(), never)).toBe('cublaslt-padded');
    expect(igemmRoute(call(4, { direct: false }), policy({ gemvMaxRows: 0 }), never)).toBe('cublaslt-padded');
    expect([1, 2, 3, 4, 5, 8].map(gemvRows)).toEqual([1, 2, 4, 4, 8, 8]);
  });
  it('takes cublasLt below 128 and above 1024 rows, and times it against the Hopper tiles between', () => {
    for (const m of [12, 64, 124, 1028, 4096]) expect(igemmRoute(call(m), policy(), never)).toBe('cublaslt');
    for (const m of [128, 512, 1024]) expect(igemmRoute(call(m), policy(), yes)).toBe('timed');
    expect(igemmRoute(call(256), policy(), no)).toBe('cublaslt'); // no Hopper kernel here
    expect(igemmRoute(call(256, { out16: false }), policy(), never)).toBe('cublaslt');
    expect(igemmRoute(call(256, { direct: false }), policy(), never)).toBe('cublaslt-padded');
  });
  it('follows a forced kernel', () => {
    expect(igemmRoute(call(4096), policy({ igemmKernel: 'sm90' }), yes)).toBe('sm90');
    expect(igemmRoute(call(256), policy({ igemmKernel: 'cublaslt' }), never)).toBe('cublaslt');
  });
});

describe('linearRoute', () => {
  const cpu = createCpuBackend();
  const f16 = (shape: number[]) => cpu.zeros(shape, 'float16');
  type Extra = { bias?: boolean; residual?: boolean; dtype?: 'float16' | 'float32'; norm?: 'rms' | 'layer'; gelu?: boolean; gated?: boolean };
  const facts = (rows: number, k = 4096, m = 4096, extra: Extra = {}, aligned = true) =>
    linearCall(f16([rows, k]), cpu.zeros([m, k], 'int8'), f16([m]), {
      dtype: extra.dtype ?? 'float16',
      ...(extra.bias ? { bias: f16([m]) } : {}),
      ...(extra.residual ? { residual: f16([rows, extra.gated ? m / 2 : m]) } : {}),
      ...(extra.norm === 'rms' ? { rmsNorm: { weight: f16([k]), eps: 1e-6 } } : {}),
      ...(extra.norm === 'layer' ? { layerNorm: { weight: f16([k]), bias: f16([k]), eps: 1e-5 } } : {}),
      ...(extra.gelu ? { gelu: true } : {}),
      ...(extra.gated ? { gated: true } : {}),
    }, () => aligned);
  const route = (c: LinearCall, p: RoutePolicy, hopper: () => boolean) => linearRoute(c, p, hopper).route;
  const none = { gelu: false, gated: false, residual: false };

  it('runs one row (and 2-8 where linear_mma_q does not fit) as one GEMV kernel, the norm, the activations and the residual included', () => {
    expect(route(facts(1), policy(), never)).toBe('gemv');
    expect(route(facts(1, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy(), never)).toBe('gemv');
    expect(route(facts(8, 4096, 4112, { bias: true, residual: true }), policy(), never)).toBe('gemv'); // m % 32 != 0
    expect(route(facts(8, 4096, 4096, { bias: true, residual: true }), policy({ mmaQuantizedMinRows: 9 }), never)).toBe('gemv');
    expect(route(facts(8, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy({ mmaQuantizedMinRows: 0 }), never)).toBe('mma-q');
    expect(route(facts(3, 2560, 10240, { norm: 'layer', gelu: true }), policy({ mmaQuantizedMaxRows: 0 }), never)).toBe('gemv');
    // 8 x 16384 bytes of activations do not fit the GEMV's shared memory: the three calls, the residual added
    // after; linear_mma_q (by default from 2 rows) reads them from L2 and takes them
    expect(linearRoute(facts(8, 16384, 4096, { residual: true }), policy({ mmaQuantizedMinRows: 9 }), never)).toEqual({ route: 'three-calls', norm: 'none', epilogue: none });
    expect(route(facts(8, 16384), policy({ mmaQuantizedMinRows: 9 }), never)).toBe('three-calls');
    expect(route(facts(8, 16384), policy(), never)).toBe('mma-q');
  });
  it('runs 9-32 rows as the quantize and linear_mma_q, every op after the product in its epilogue', () => {
    expect(linearRoute(facts(9, 4096, 4096, { residual: true }), policy(), never)).toEqual({ route: 'mma-q', norm: 'none', epilogue: { ...none, residual: true } });
    expect(linearRoute(facts(32, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy(), never)).toEqual({
      route: 'mma-q', norm: 'quantize', epilogue: { gelu: false, gated: true, residual: true },
    });
    expect(linearRoute(facts(16, 2560, 10240, { norm: 'layer', gelu: true }), policy(), never).epilogue).toEqual({ ...none, gelu: true });
    expect(route(facts(33), policy(), never)).toBe('three-calls');
    expect(route(facts(32), policy({ mmaQuantizedMaxRows: 16 }), never)).toBe('three-calls');
    expect(route(facts(16), policy({ mmaQuantizedMaxRows: 0 }), never)).toBe('three-calls');
    expect(route(facts(32), policy({ mmaQuantizedMaxRows: 64 }), never)).toBe('mma-q'); // at most 32 whatever the policy says
    expect(route(facts(64), policy({ mmaQuantizedMaxRows: 64 }), never)).toBe('three-calls');
    expect(route(facts(16, 4096, 4112), policy(), never)).toBe('three-calls'); // m % 32 != 0
    expect(route(facts(16, 4160 + 16), policy(), never)).toBe('three-calls'); // k % 64 != 0
    expect(route(facts(16, 4096, 4096, { dtype: 'float32' }), policy(), never)).toBe('three-calls');
    expect(route(facts(16, 4096, 4096, {}, false), policy(), never)).toBe('three-calls');
    // from mmaQuantizedMinRows (2) it takes rows the GEMV would
    expect(linearRoute(facts(8, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy(), never)).toEqual({
      route: 'mma-q', norm: 'quantize', epilogue: { gelu: false, gated: true, residual: true },
    });
    expect(route(facts(2), policy(), never)).toBe('mma-q');
    expect(route(facts(1), policy(), never)).toBe('gemv');
    expect(route(facts(8), policy({ mmaQuantizedMinRows: 9 }), never)).toBe('gemv');
  });
  it('times the fused Hopper kernel from 128 rows, and takes the three calls below or without it', () => {
    expect(route(facts(64), policy(), never)).toBe('three-calls');
    expect(route(facts(128, 4096, 10240, { bias: true }), policy(), yes)).toBe('timed');
    expect(route(facts(4096), policy(), no)).toBe('three-calls');
    expect(route(facts(4096), policy({ fusedLinearTune: false }), yes)).toBe('fused');
    expect(route(facts(4096), policy({ fusedLinear: false }), never)).toBe('three-calls');
  });
  it('puts GELU or the gated GELU·gate and the residual into the fused kernel\'s epilogue', () => {
    expect(linearRoute(facts(512, 4096, 4096, { residual: true }), policy(), yes)).toEqual({ route: 'timed', norm: 'none', epilogue: { ...none, residual: true } });
    expect(linearRoute(facts(512, 2560, 10240, { norm: 'layer', gelu: true }), policy(), yes)).toEqual({ route: 'timed', norm: 'quantize', epilogue: { ...none, gelu: true } });
    expect(linearRoute(facts(512, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy({ gatedEpilogue: true }), yes)).toEqual({
      route: 'timed', norm: 'quantize', epilogue: { gelu: false, gated: true, residual: true },
    });
    // the gated kernel is the default; switched off, and where f % 8 != 0: the plain kernel, gelu_mul and the residual after it
    expect(linearRoute(facts(512, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy(), yes).epilogue).toEqual({ gelu: false, gated: true, residual: true });
    expect(linearRoute(facts(512, 4096, 20480, { norm: 'rms', gated: true, residual: true }), policy({ gatedEpilogue: false }), yes).epilogue).toEqual(none);
    expect(linearRoute(facts(512, 4096, 2056, { gated: true, residual: true }), policy({ gatedEpilogue: true }), yes).epilogue).toEqual(none);
    expect(linearRoute(facts(512, 4096, 4096, { gelu: true, residual: true }), policy({ fusedEpilogue: false }), yes).epilogue).toEqual(none);
    // the three calls never take an epilogue
    expect(linearRoute(facts(64, 4096, 4096, { gelu: true, residual: true }), policy(), never).epilogue).toEqual(none);
  });
  it('fuses the norm with the quantize for float16, 16-byte aligned rows of k % 8 == 0, on any route but the GEMV', () => {
    expect(linearRoute(facts(64, 4096, 4096, { norm: 'rms' }), policy(), never).norm).toBe('quantize');
    expect(linearRoute(facts(1000, 4104, 4096, { norm: 'rms' }), policy(), no)).toEqual({ route: 'three-calls', norm: 'quantize', epilogue: none }); // k % 16 != 0: no Hopper kernel
    expect(linearRoute(facts(64, 4100, 4096, { norm: 'rms' }), policy(), never).norm).toBe('op');
    expect(linearRoute(facts(64, 4096, 4096, { norm: 'layer' }, false), policy(), never).norm).toBe('op');
    expect(linearRoute(facts(64, 4096, 4096, { norm: 'layer', dtype: 'float32' }), policy(), never).norm).toBe('op');
    expect(linearRoute(facts(64, 4096, 4096, { norm: 'rms' }), policy({ normQuantize: false }), never).norm).toBe('op');
    expect(linearRoute(facts(64), policy(), never).norm).toBe('none');
  });
  it('keeps float32 output, misaligned operands and odd shapes on the three calls', () => {
    expect(route(facts(4, 4096, 4096, { dtype: 'float32' }), policy(), never)).toBe('three-calls');
    expect(route(facts(4, 4096, 4096, {}, false), policy(), never)).toBe('three-calls');
    expect(route(facts(4, 4104), policy(), never)).toBe('three-calls'); // k % 16 != 0
    expect(route(facts(4, 4096, 4098), policy(), never)).toBe('three-calls'); // m % 4 != 0
  });
});

describe('rowVecLaunch', () => {
  it('gives quantize_f16_fast\'s launch: up to 8 vectors a thread, at most 128 threads until 8 vectors, whole warps', () => {
    expect(rowVecLaunch(8)).toEqual({ items: 1, threads: 32 });
    expect(rowVecLaunch(1024)).toEqual({ items: 1, threads: 128 });
    expect(rowVecLaunch(4096)).toEqual({ items: 4, threads: 128 });
    expect(rowVecLaunch(4104)).toEqual({ items: 8, threads: 96 });
    expect(rowVecLaunch(10240)).toEqual({ items: 8, threads: 160 });
    expect(rowVecLaunch(ROW_VEC_MAX_COLS)).toEqual({ items: 8, threads: 1024 });
  });
});

describe('linear_mma (the tensor-core GEMV linear)', () => {
  it('takes 2-8 rows where k is whole 64-byte steps, the weight whole 16-row tiles and the activations fit in shared memory', () => {
    expect(linearMmaFits(1, 4096, 4096, policy())).toBe(false);
    for (const rows of [2, 5, 8]) expect(linearMmaFits(rows, 4096, 4096, policy())).toBe(true);
    expect(linearMmaFits(8, 4096 + 16, 4096, policy())).toBe(false);
    expect(linearMmaFits(8, 4096, 4100, policy())).toBe(false);
    expect(linearMmaFits(8, 10240, 4096, policy())).toBe(true);
    expect(linearMmaFits(8, 24576, 4096, policy())).toBe(false); // 8 k + 16 KiB over 200 KiB
    expect(linearMmaFits(4, 4096, 4096, policy({ gemvMmaMinRows: 0 }))).toBe(false);
    expect(linearMmaFits(1, 4096, 4096, policy({ gemvMmaMinRows: 1 }))).toBe(true);
  });
  it('groups tiles to keep the critical path shortest on 132 SMs', () => {
    // CPM-2's decoder: 4096 x 4096 (self/cross q, o), 12288 x 4096 (qkv), gated 20480 x 4096, 4096 x 10240
    expect(linearMmaTiles(4096, 4096, 132)).toBe(2);
    expect(linearMmaTiles(12288, 4096, 132)).toBe(2);
    expect(linearMmaTiles(20480, 4096, 132)).toBe(2);
    expect(linearMmaTiles(4096, 10240, 132)).toBe(2);
    // few tiles: one tile a group, k split over all 16 warps
    expect(linearMmaTiles(16, 64, 132)).toBe(1);
    expect(linearMmaTiles(592, 448, 132)).toBe(1);
  });
});

describe('linear_gemv (the dp4a GEMV linear): its grid and k split', () => {
  it('splits k where the units of 4 weight rows alone leave warps idle, and not where they fill the GPU', () => {
    // 4096 outputs at 1 row: 1024 units; unsplit that was 128 blocks, 8 warps an SM
    expect(linearGemvSplit(4096, 4096, 1, 132)).toEqual({ ks: 2, grid: 256 });
    expect(linearGemvSplit(4096, 10240, 1, 132)).toEqual({ ks: 2, grid: 256 });
    // CPM-1 (d 2560): 640 units, 2 steps of k a slice at ks 4
    expect(linearGemvSplit(2560, 2560, 1, 132)).toEqual({ ks: 4, grid: 320 });
    // the gated FFN's 5120 units already fill 3 blocks an SM twice over
    expect(linearGemvSplit(20480, 4096, 1, 132)).toEqual({ ks: 1, grid: 396 });
    // 8 rows: 2 blocks stay resident an SM
    expect(linearGemvSplit(20480, 4096, 8, 132)).toEqual({ ks: 1, grid: 264 });
  });
  it('takes a forced split as it is, and never makes more blocks than there are units', () => {
    expect(linearGemvSplit(4096, 4096, 1, 132, 8)).toEqual({ ks: 8, grid: 396 });
    expect(linearGemvSplit(16, 64, 1, 132)).toEqual({ ks: 1, grid: 1 });
    expect(linearGemvSplit(16, 64, 1, 132, 8)).toEqual({ ks: 8, grid: 4 });
  });
});

describe('gemvLinearConfigs (the GEMV linear launches the tuner times)', () => {
  it("puts the heuristics' launch first, then the other splits of one kernel, never the other kernel", () => {
    // CPM-1's 2560 x 2560 at 8 rows: linear_mma, 2 tiles a group on 80 blocks first, then 1 (132 blocks), 4, 8
    const mma = gemvLinearConfigs(8, 2560, 2560, 132, policy());
    expect(mma[0]).toEqual({ kernel: 'mma', mt: 2, grid: 80 });
    expect(mma.slice(1)).toEqual([
      { kernel: 'mma', mt: 1, grid: 132 },
      { kernel: 'mma', mt: 4, grid: 40 },
      { kernel: 'mma', mt: 8, grid: 20 },
    ]);
    // one row: linear_gemv at each k split, linearGemvSplit's first
    const gemv = gemvLinearConfigs(1, 4096, 4096, 132, policy());
    expect(gemv.map((c) => c.kernel)).toEqual(['gemv', 'gemv', 'gemv', 'gemv']);
    expect(gemv[0]).toEqual({ kernel: 'gemv', ks: 2, grid: 256 });
    expect(gemv.map((c) => (c.kernel === 'gemv' ? c.ks : 0)).sort()).toEqual([1, 2, 4, 8]);
    // no more tiles a group than there are tiles
    expect(gemvLinearConfigs(4, 64, 32, 132, policy()).map((c) => (c.kernel === 'mma' ? c.mt : 0))).toEqual([1, 2]);
  });
  it('offers the one launch where tuning is off or the split is forced', () => {
    expect(gemvLinearConfigs(8, 2560, 2560, 132, policy({ gemvTune: false }))).toEqual([{ kernel: 'mma', mt: 2, grid: 80 }]);
    expect(gemvLinearConfigs(1, 4096, 4096, 132, policy({ gemvSplitK: 8 }))).toEqual([{ kernel: 'gemv', ks: 8, grid: 396 }]);
    expect(gemvLinearConfigs(8, 4096, 4096, 132, policy({ gemvMmaTiles: 8 }))).toEqual([{ kernel: 'mma', mt: 8, grid: 32 }]);
    expect(gemvLinearConfigs(8, 4096, 4096, 132, policy({ gemvMmaMinRows: 0 }))[0].kernel).toBe('gemv');
  });
});

describe('attendCacheSplits', () => {
  it('splits a long cache over blocks only where the (sequence, head) pairs leave SMs idle', () => {
    // CPM-2 decoding one sequence: 64 heads over a 512-position encoder cache -> 5 blocks a pair
    expect(attendCacheSplits(64, 512, 132)).toBe(5);
    // batch 8: 512 pairs already fill 132 SMs twice over
    expect(attendCacheSplits(512, 512, 132)).toBe(1);
    // a short cache is never cut below 64 positions a block
    expect(attendCacheSplits(1, 100, 132)).toBe(2);
    expect(attendCacheSplits(1, 64, 132)).toBe(1);
    // at most 32 blocks a pair; none beyond the counters' reach
    expect(attendCacheSplits(1, 1 << 20, 132)).toBe(32);
    expect(attendCacheSplits(ATTEND_SPLIT_MAX_PAIRS + 1, 1 << 20, 1 << 20)).toBe(1);
  });
});
