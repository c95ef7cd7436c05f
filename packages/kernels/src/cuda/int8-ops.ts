// The int8 ops one by one, as the Backend contract has them: quantizeRows (and quantizeRowsInto), igemm (and
// igemmInto) and dequantize. How an igemm runs (the GEMV, cublasLt, the Hopper kernel, timed) is decided by
// igemmRoute (linear-route.ts) and timed by tuner.ts; this file checks the operands and launches what they chose.
// The int8 linear layer, which fuses these, is linear-int8-ops.ts.
import {
  InvalidArgumentError,
  ShapeMismatchError,
  Tensor,
  checkContiguous,
  checkDType,
  checkRank,
  checkShape,
  shapeToString,
} from '@bminf/core';
import { igemmShapeProblem, ltStorageBytes, paddedRows } from '@bminf/cublaslt';
import { mapNativeError } from '@bminf/cuda-binding';
import { IGEMM_TIMED_CANDIDATES, gemvRows, igemmRoute } from './linear-route.js';
import { type CudaOpsContext, type FloatDType, aligned16, disposeCopies, filled, gridFor, sfx, up32 } from './ops-context.js';
import { ROW_VEC_MAX_COLS, rowVecLaunch } from './row-vec.js';
import type { Sm90Gemm } from './sm90-gemm.js';
import { CudaStorage } from './storage.js';

/** Whether the Hopper kernel runs here and fits x [T, K] and w [M, K] (compiles it on first use). */
export function hopperFits(sm90: Sm90Gemm, x: Tensor, w: Tensor): boolean {
  return !sm90.unavailable && sm90.fits(x, w) && sm90.ready();
}

/** Whether t's storage runs on past its `rows` rows of `rowBytes` for cublasLt's whole tiles. */
function ltSlackOk(t: Tensor, rows: number, rowBytes: number): boolean {
  return (t.storage as CudaStorage).byteLength - t.byteOffset >= ltStorageBytes(rows, rowBytes);
}

export class Int8Ops {
  constructor(private readonly cx: CudaOpsContext) {}

  quantizeRows(x: Tensor): { values: Tensor; scales: Tensor } {
    this.cx.check('quantizeRows', x);
    checkDType('quantizeRows', x, 'float16', 'float32');
    checkRank('quantizeRows', x, 2);
    const [rows, cols] = x.shape;
    const values = this.cx.makeLt([rows, cols], 'int8');
    const scales = this.cx.make([rows], 'float16');
    this.quantizeRowsInto(x, values, scales);
    return { values, scales };
  }

  /** quantizeRows into tensors the caller owns (packed int8 [rows, cols] and float16 [rows]). */
  quantizeRowsInto(x: Tensor, values: Tensor, scales: Tensor): void {
    this.cx.check('quantizeRows', x, values, scales);
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
    const xp = this.cx.packed(x);
    try {
      const xs = this.cx.span(xp);
      const fast = x.dtype === 'float16' && cols > 0 && cols % 8 === 0 && xs.byteOffset % 16 === 0 && this.cx.span(values).byteOffset % 8 === 0;
      if (fast && cols <= ROW_VEC_MAX_COLS) {
        // The row in registers (rowVecLaunch). The measured alternatives (exact division everywhere, a
        // pipelined persistent grid) are in packages/kernels/dev/cuda/ with their history in NOTES.md.
        const { items, threads } = rowVecLaunch(cols);
        this.cx.launch(`quantize_f16_fast${items}`, rows, threads, 'pppii', [xp, values, scales, rows, cols]);
      } else {
        this.cx.launch(`quantize_${sfx(x.dtype)}`, rows, Math.min(256, up32(cols)), 'pppii', [xp, values, scales, rows, cols]);
      }
    } finally {
      if (xp !== x) xp.dispose();
    }
  }

  igemm(a: Tensor, b: Tensor): Tensor {
    if (this.igemmDirectOk(a, b)) {
      return filled(this.cx.makeLt([a.shape[0], b.shape[0]], 'int32'), (out) => this.igemmRouted(a, b, out, true, false));
    }
    const [m, n] = this.igemmCheck('igemm', a, b);
    // cublasLt may compute into padded rows (see igemmPadded): the output has room for them.
    const storage = this.cx.alloc(ltStorageBytes(paddedRows(m), n * 4));
    return filled(new Tensor({ storage, dtype: 'int32', shape: [m, n] }), (out) => this.igemmRouted(a, b, out, false, true));
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
    this.cx.check('igemm', out);
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
    const call = { m, k, direct, operands16: aligned16(a) && aligned16(b), out16: aligned16(out) };
    switch (igemmRoute(call, this.cx.routes, () => hopperFits(this.cx.sm90, a, b))) {
      case 'gemv':
        // A few us of GPU work, so the host's time to launch it counts: replayed from a graph where the
        // same call repeats.
        this.cx.launch(`igemv_r${gemvRows(m)}`, n / 4, 256, 'pppiii', [a, b, out, m, n, k], true);
        return;
      case 'cublaslt':
        this.igemmDirect(a, b, out);
        return;
      case 'sm90':
        this.cx.sm90.igemm(a, b, out, this.cx.sm90.tileFor(m, n));
        return;
      case 'timed': {
        // Every candidate computes the same exact int32 sums, so the timing runs write into out.
        const run = (c: (typeof IGEMM_TIMED_CANDIDATES)[number]) => (c === 'cublaslt' ? this.igemmDirect(a, b, out) : this.cx.sm90.igemm(a, b, out, c));
        run(this.cx.tuner.igemmKernel(m, n, k, IGEMM_TIMED_CANDIDATES, run));
        return;
      }
      case 'cublaslt-padded':
        this.igemmPadded(a, b, out, m, n, k, padded);
        return;
    }
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
    if (this.cx.disposed || !(sa instanceof CudaStorage) || !(sb instanceof CudaStorage) || sa.owner !== this.cx.backend || sb.owner !== this.cx.backend) return false;
    if (a.dtype !== 'int8' || b.dtype !== 'int8' || a.rank !== 2 || b.rank !== 2 || a.disposed || b.disposed) return false;
    const m = a.shape[0];
    const k = a.shape[1];
    const n = b.shape[0];
    if (b.shape[1] !== k || m <= this.cx.routes.gemvMaxRows || m % 4 !== 0 || n % 4 !== 0 || k % 4 !== 0 || n === 0 || k === 0) return false;
    return a.isContiguous() && b.isContiguous() && (sa.base + a.byteOffset) % 4 === 0 && (sb.base + b.byteOffset) % 4 === 0;
  }

  private igemmDirectOutOk(out: Tensor, m: number, n: number): boolean {
    const so = out.storage;
    if (!(so instanceof CudaStorage) || so.owner !== this.cx.backend || out.dtype !== 'int32' || out.rank !== 2 || out.disposed) return false;
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
    if (!ltSlackOk(a, m, k)) {
      const ap = this.cx.makeLt([m, k], 'int8');
      try {
        this.cx.backend.copy(a, ap);
        this.igemmDirect(ap, b, out);
      } finally {
        ap.dispose();
      }
      return;
    }
    if (!ltSlackOk(out, m, n * 4)) {
      const op = this.cx.makeLt([m, n], 'int32');
      try {
        this.igemmDirect(a, b, op);
        this.cx.backend.copy(op, out);
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
      if (this.cx.igemmPath === 'auto') this.cx.native.igemmFast(sa.region, oa, sb.region, ob, sc.region, oc, m, n, k);
      else this.cx.native.igemm(sa.region, oa, m * k, sb.region, ob, n * k, sc.region, oc, m * n * 4, m, n, k, this.cx.igemmPath);
    } catch (e) {
      throw mapNativeError(e, 'igemm');
    }
  }

  private igemmCheck(op: string, a: Tensor, b: Tensor): [number, number, number] {
    this.cx.check(op, a, b);
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
    const as = this.cx.span(a);
    const bs = this.cx.span(b);
    const mp = paddedRows(m);
    const temps: Tensor[] = [];
    try {
      let ap = a;
      if (mp !== m || as.byteOffset % 4 !== 0 || !ltSlackOk(a, m, k)) {
        ap = this.cx.makeLt([mp, k], 'int8');
        temps.push(ap);
        const ps = this.cx.span(ap);
        if (as.byteLength) this.cx.native.copy(as.region, as.byteOffset, as.byteLength, ps.region, ps.byteOffset, as.byteLength);
        if (mp > m) this.cx.native.fill(ps.region, ps.byteOffset + m * k, (mp - m) * k, 0);
      }
      let bp = b;
      if (bs.byteOffset % 4 !== 0) {
        bp = this.cx.make([n, k], 'int8');
        temps.push(bp);
        this.cx.backend.copy(b, bp);
      }
      const os = (out.storage as CudaStorage).span(out.byteOffset, mp * n * 4);
      if ((padded || mp === m) && os.byteOffset % 4 === 0 && ltSlackOk(out, mp, n * 4)) {
        this.cx.lt.igemm(this.cx.span(ap), this.cx.span(bp), os, mp, n, k, this.cx.igemmPath);
      } else {
        // The caller's output has no room for the padded rows: compute into a temporary, copy m rows.
        const tmp = this.cx.makeLt([mp, n], 'int32');
        temps.push(tmp);
        this.cx.lt.igemm(this.cx.span(ap), this.cx.span(bp), this.cx.span(tmp), mp, n, k, this.cx.igemmPath);
        const ts = this.cx.span(tmp);
        const dst = this.cx.span(out);
        this.cx.native.copy(ts.region, ts.byteOffset, m * n * 4, dst.region, dst.byteOffset, m * n * 4);
      }
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  dequantize(acc: Tensor, rowScale: Tensor, colScale: Tensor, options: { dtype: FloatDType; bias?: Tensor }): Tensor {
    const bias = options?.bias;
    this.cx.check('dequantize', acc, rowScale, colScale, bias);
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
    const ins = [acc, rowScale, colScale, bias].map((t) => (t ? this.cx.packed(t) : t)) as [Tensor, Tensor, Tensor, Tensor | undefined];
    const out = this.cx.make([m, n], dtype);
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
    const al16 = (t: Tensor | undefined) => !t || this.cx.span(t).byteOffset % 16 === 0;
    // 8 columns per thread where the layout allows (bit-identical to the 4-column kernel, tested).
    if (out.dtype === 'float16' && n % 8 === 0 && al16(acc) && al16(out) && al16(colScale) && al16(bias)) {
      const threads = up32(Math.min(256, n / 8));
      const chunks = Math.ceil(n / 8 / threads);
      this.cx.launch('dequantize8_f16', m * chunks, threads, 'ppppipii', [acc, rowScale, colScale, bias ?? colScale, bias ? 1 : 0, out, m, n]);
      return;
    }
    const vec = n % 4 === 0 && this.cx.span(acc).byteOffset % 16 === 0;
    const total = vec ? (m * n) / 4 : m * n;
    this.cx.launch(`dequantize${vec ? '4' : ''}_${sfx(out.dtype)}`, gridFor(total), 256, 'ppppipii', [
      acc, rowScale, colScale, bias ?? acc, bias ? 1 : 0, out, m, n,
    ]);
  }
}
