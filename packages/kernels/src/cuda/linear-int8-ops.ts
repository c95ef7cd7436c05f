// The int8 linear layer (Backend.linearInt8): dequantize(igemm(quantizeRows(x), weight), …) with its norm,
// GELU and residual, run by the route linearRoute (linear-route.ts) plans: the one-kernel GEMV, linear_mma_q
// after a GEMV-exact quantize, the Hopper kernel with an epilogue, or the separate ops. tuner.ts times the
// choices that need it; this file launches what they chose. The separate int8 ops are int8-ops.ts.
import { InvalidArgumentError, type LinearInt8Options, ShapeMismatchError, type Tensor } from '@bminf/core';
import { PHASE_LINEAR_FORMS, PHASE_MAX_SHARED } from './decode-phases.js';
import { hopperFits } from './int8-ops.js';
import {
  type GemvLinearConfig, gemvLinearConfigs, gemvRows, linearGemvSplit, linearCall, type LinearPlan, LINEAR_MMA_WARPS, LINEAR_MMA_Q, linearMmaQGroups, linearMmaQShared, linearMmaShared, linearRoute,
} from './linear-route.js';
import { type CudaOpsContext, aligned16, filled, gridFor, phasePerSm } from './ops-context.js';
import { SM90_TILES, type Sm90Tile } from './sm90-gemm.js';

export class LinearInt8Ops {
  constructor(private readonly cx: CudaOpsContext) {}

  /**
   * dequantize(igemm(quantizeRows(x), weight), scales, weightScale) with its options (norm first; GELU or
   * gated GELU; the residual last): the Backend's optional fused op, planned by linearRoute. One row:
   * one kernel (the GEMV); 2-32 rows: the quantize (with the norm), then linear_mma_q with every op in its
   * epilogue; beyond, the norm with the quantize, the product with what its epilogue takes, and the rest as
   * ops (LinearPlan).
   */
  linearInt8(x: Tensor, weight: Tensor, weightScale: Tensor, options: LinearInt8Options): Tensor {
    const { bias, residual, rmsNorm, layerNorm, gated, gelu } = options;
    this.cx.check('linearInt8', x, weight, weightScale, bias, residual, rmsNorm?.weight, layerNorm?.weight, layerNorm?.bias);
    if (rmsNorm && layerNorm) throw new InvalidArgumentError('linearInt8: give rmsNorm or layerNorm, not both.');
    if (gated && gelu) throw new InvalidArgumentError('linearInt8: give gated or gelu, not both.');
    if (gated && weight.rank === 2 && weight.shape[0] % 2 !== 0) {
      throw new ShapeMismatchError(`linearInt8: a gated weight has an even number of rows [in; gate], not ${weight.shape[0]}.`);
    }
    const plan = linearRoute(linearCall(x, weight, weightScale, options, aligned16), this.cx.routes, () => hopperFits(this.cx.sm90, x, weight));
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
    if (!n) return this.cx.backend.quantizeRows(x);
    const nb = options.layerNorm?.bias ?? null;
    const normOptions = { eps: n.eps, subtractMean: !!options.layerNorm };
    if (norm === 'quantize') return this.cx.backend.normQuantizeRows(x, n.weight, nb, normOptions);
    const xn = this.cx.backend.layerNorm(x, n.weight, nb, normOptions);
    try {
      return this.cx.backend.quantizeRows(xn);
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
        else if (gelu && !done.gelu) h = this.cx.backend.gelu(y);
      } finally {
        if (h !== y) y.dispose();
      }
      if (!residual || done.residual) return h;
      try {
        return this.cx.backend.add(residual, h);
      } finally {
        h.dispose();
      }
    };
    const threeCalls = (): Tensor => {
      const acc = this.cx.backend.igemm(q.values, weight);
      let y: Tensor;
      try {
        y = this.cx.backend.dequantize(acc, q.scales, ws, { dtype: options.dtype, ...(bias ? { bias } : {}) });
      } finally {
        acc.dispose();
      }
      return y;
    };
    if (plan.route === 'fused' || plan.route === 'timed') {
      const epi = plan.epilogue;
      // tile: the kernel's tile shape (undefined: Sm90Gemm.tileFor's)
      const fused = (tile?: Sm90Tile): Tensor =>
        filled(this.cx.make([rows, epi.gated ? m / 2 : m], 'float16'), (y) => {
          if (epi.gated) this.cx.sm90.linearGated(q.values, q.scales, weight, ws, bias, y, epi.residual ? residual : undefined, tile);
          else this.cx.sm90.linear(q.values, q.scales, weight, ws, bias, y, { gelu: epi.gelu, ...(epi.residual ? { residual } : {}), ...(tile ? { tile } : {}) });
        });
      // Timed like with like: the fused kernel with its epilogue against the three calls followed by the
      // same ops as kernels of their own (what would follow both alike is left out).
      const callsAsFused = (): void => {
        const y = threeCalls();
        const g = epi.gated ? this.geluMul(y) : epi.gelu ? this.cx.backend.gelu(y) : y;
        const r = epi.residual && residual ? this.cx.backend.add(residual, g) : g;
        for (const t of new Set([y, g, r])) t.dispose();
      };
      if (plan.route === 'timed' && this.cx.routes.fusedTileTune) {
        const tile = this.cx.tuner.fusedTile(rows, m, k, !!bias, epi, SM90_TILES, (t) => fused(t).dispose(), callsAsFused);
        if (tile) return finish(fused(tile), epi);
        return finish(threeCalls(), { gelu: false, gated: false, residual: false });
      }
      const fusedWins = plan.route === 'fused' || this.cx.tuner.fusedFaster(rows, m, k, !!bias, epi, () => fused().dispose(), callsAsFused);
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
    const values = this.cx.make([rows, k], 'int8');
    const scales = this.cx.make([rows], 'float16');
    try {
      const name = `quantize_rows_gemv${options.rmsNorm ? '_norm' : options.layerNorm ? '_ln' : ''}`;
      const nb = options.layerNorm?.bias;
      this.cx.launch(name, rows, 256, 'pppipfpi', [x, values, scales, k, norm?.weight ?? x, norm?.eps ?? 0, nb ?? x, nb ? 1 : 0]);
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
    this.optInShared(name, shared);
    return filled(this.cx.make([rows, gated ? m / 2 : m], 'float16'), (out) => {
      const groups = m / (16 * LINEAR_MMA_Q.tilesPerWarp);
      const grid = Math.min(this.cx.info.multiprocessors ?? 132, groups);
      this.cx.native.launch(this.cx.fn(name), [grid, 1, 1], [LINEAR_MMA_Q.warps * 32, 1, 1], shared, 'pppppipipiiii', [
        ...this.cx.flat([q.values, q.scales, w, ws, bias ?? ws]), bias ? 1 : 0, ...this.cx.flat([residual ?? ws]), residual ? 1 : 0, ...this.cx.flat([out]),
        rows, m, k, this.cx.routes.weightsPastL1 ? 1 : 0,
      ], false, this.cx.routes.dependentLaunch);
    }, 'linearInt8');
  }

  /** The dynamic shared memory each GEMV-family kernel was opted in to (optInShared), so that the driver is asked once. */
  private readonly sharedOptedIn = new Map<string, number>();
  private optInShared(name: string, shared: number): void {
    if ((this.sharedOptedIn.get(name) ?? 0) >= shared) return;
    this.cx.native.setMaxDynamicShared(this.cx.fn(name), shared);
    this.sharedOptedIn.set(name, shared);
  }

  private linearGemv(x: Tensor, w: Tensor, ws: Tensor, options: LinearInt8Options): Tensor {
    const { bias, residual, rmsNorm, layerNorm, gated, gelu } = options;
    const [rows, k] = x.shape;
    const m = w.shape[0];
    const sms = this.cx.info.multiprocessors ?? 132;
    // every candidate launch runs the same kernel (linear_mma or linear_gemv), so the same bits
    const candidates = gemvLinearConfigs(rows, k, m, sms, this.cx.routes);
    const mma = candidates[0].kernel === 'mma';
    const norm = rmsNorm ? '_norm' : layerNorm ? '_ln' : '';
    const act = gated ? '_gated' : gelu ? '_gelu' : '';
    const R = gemvRows(rows);
    const name = `linear_${mma ? 'mma' : 'gemv'}${norm}${act}${mma ? '' : `_r${R}`}`;
    const shared = mma ? linearMmaShared(k) : R * k;
    // Beyond 48 KiB of shared memory a kernel must opt in; the kernels' static shared memory (under 1 KiB)
    // counts too, so linear_mma at k = 4096 (exactly 48 KiB dynamic) needs it.
    if (shared > 47 * 1024) this.optInShared(name, shared);
    return filled(this.cx.make([rows, gated ? m / 2 : m], 'float16'), (out) => {
      const args = [
        ...this.cx.flat([x, w, ws, bias ?? ws]), bias ? 1 : 0, ...this.cx.flat([residual ?? x]), residual ? 1 : 0, ...this.cx.flat([out]), rows, m, k,
        ...this.cx.flat([(rmsNorm ?? layerNorm)?.weight ?? ws]), (rmsNorm ?? layerNorm)?.eps ?? 0, ...this.cx.flat([layerNorm?.bias ?? ws]), layerNorm?.bias ? 1 : 0,
      ];
      const stream = this.cx.routes.weightsPastL1 ? 1 : 0;
      // linear_mma: one block an SM, each taking groups of mt tiles of 16 weight rows; linear_gemv: as many
      // blocks as stay resident at once, each warp looping over its units of 4 weight rows (or its slice of their k)
      const run = (c: GemvLinearConfig) =>
        this.cx.native.launch(this.cx.fn(name), [c.grid, 1, 1], [c.kernel === 'mma' ? LINEAR_MMA_WARPS * 32 : 256, 1, 1], shared, 'ppppipipiiipfpiii',
          [...args, c.kernel === 'mma' ? c.mt : c.ks, stream], false, this.cx.routes.dependentLaunch);
      const form = (rmsNorm ? 3 : layerNorm ? 6 : 0) + (gated ? 1 : gelu ? 2 : 0);
      const perSm = phasePerSm(this.cx);
      if (perSm > 0 && rows === 1 && !mma && PHASE_LINEAR_FORMS.has(form) && shared <= PHASE_MAX_SHARED) {
        // a phase of decode_phases, its split of k planned for that kernel's grid (untimed: the same bits)
        const c = linearGemvSplit(m, k, 1, this.cx.info.multiprocessors ?? 132, this.cx.routes.gemvSplitK, perSm);
        const spans = this.cx.flat([x, w, ws, bias ?? ws, residual ?? x, out, (rmsNorm ?? layerNorm)?.weight ?? ws, layerNorm?.bias ?? ws]);
        const flags = (bias ? 1 : 0) | (residual ? 2 : 0) | (layerNorm?.bias ? 4 : 0);
        const phase = [...spans, 0, 0, form, rows, m, k, c.ks, stream, c.grid, flags, (rmsNorm ?? layerNorm)?.eps ?? 0, 0];
        this.cx.phases.push({ args: phase, shared, solo: () => run({ kernel: 'gemv', ...c }) }, perSm);
        return;
      }
      const key = `${name}:${rows}:${m}:${k}:${bias ? 1 : 0}${residual ? 1 : 0}${layerNorm?.bias ? 1 : 0}:${stream}`;
      run(this.cx.tuner.gemvLinear(key, candidates, run));
    }, 'linearInt8');
  }

  /**
   * mul(gelu(y[:, :f]), y[:, f:]) for y [rows, 2f] (a gated FFN's stacked in | gate), bit for bit the
   * two ops, in one pass (gelu_mul in elementwise.cu). Used by linearInt8's gated option.
   */
  private geluMul(y: Tensor): Tensor {
    const [rows, f2] = y.shape;
    const f = f2 / 2;
    if (y.dtype !== 'float16' || !y.isContiguous() || rows * f2 >= 2 ** 31) {
      const g = this.cx.backend.gelu(y.narrow(1, 0, f));
      try {
        return this.cx.backend.mul(g, this.cx.packed(y.narrow(1, f, f)));
      } finally {
        g.dispose();
      }
    }
    const out = this.cx.make([rows, f], 'float16');
    if (rows * f > 0) this.cx.launch('gelu_mul_f16', Math.min(gridFor(rows * f), 65536), 256, 'ppii', [y, out, rows, f]);
    return out;
  }
}
