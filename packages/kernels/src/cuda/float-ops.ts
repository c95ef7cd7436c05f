// The float ops: cublasLt's gemm, the norms (layerNorm, and normQuantizeRows, the norm with the int8
// quantize in one kernel), GELU, and the elementwise add and mul with broadcasting.
import {
  InvalidArgumentError,
  ShapeMismatchError,
  Tensor,
  UnsupportedError,
  checkBroadcastSuffix,
  checkDType,
  checkRank,
  checkSameDType,
  checkShape,
  shapeToString,
} from '@bminf/core';
import { type CudaOpsContext, type FloatDType, aligned16, dims4, disposeCopies, gridFor, sfx, up32 } from './ops-context.js';
import { ROW_VEC_MAX_COLS, rowVecLaunch } from './row-vec.js';

export class FloatOps {
  constructor(private readonly cx: CudaOpsContext) {}

  gemm(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Tensor {
    this.cx.check('gemm', a, b);
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
    const out = this.cx.make(outShape, a.dtype);
    if (out.numel === 0) return out;
    const run = (x: Tensor, y: Tensor) => {
      const rowStride = (t: Tensor) => (t.shape[t.rank - 2] <= 1 ? t.shape[t.rank - 1] : t.strides[t.rank - 2]);
      const batchStride = (t: Tensor) => (t.rank === 3 && t.shape[0] > 1 ? t.strides[0] : 0);
      this.cx.lt.gemm({
        dtype: a.dtype as FloatDType, transA, transB, m, n, k, alpha,
        a: this.cx.span(x), lda: rowStride(x), strideA: batchStride(x),
        b: this.cx.span(y), ldb: rowStride(y), strideB: batchStride(y),
        c: this.cx.span(out), batch,
      });
    };
    const lastOk = (t: Tensor) => t.shape[t.rank - 1] <= 1 || t.strides[t.rank - 1] === 1;
    const x = lastOk(a) ? a : this.cx.backend.contiguous(a);
    const y = lastOk(b) ? b : this.cx.backend.contiguous(b);
    try {
      run(x, y);
    } catch (e) {
      // A strided layout cublasLt has no algorithm for: retry once on packed copies.
      if (!(e instanceof UnsupportedError) || (x.isContiguous() && y.isContiguous())) {
        out.dispose();
        throw e;
      }
      const px = this.cx.packed(x);
      const py = this.cx.packed(y);
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
    this.cx.check('layerNorm', x, weight, bias);
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
    const ins = [x, weight, bias].map((t) => (t ? this.cx.packed(t) : t)) as [Tensor, Tensor, Tensor | null];
    const out = this.cx.make(x.shape, x.dtype);
    try {
      const rows = d === 0 ? 0 : x.numel / d;
      if (rows > 0) {
        const [xp, w, b] = ins;
        const args = [xp, w, b ?? w, b ? 1 : 0, out, d, eps, options.subtractMean ? 1 : 0];
        if (this.rowVecOk(d, xp, w, b, out)) {
          // the row in registers, read once: the kernel norm_quantize shares (an int8 linear's fused norm)
          const { items, threads } = rowVecLaunch(d);
          this.cx.launch(`layernorm8_f16_${items}`, rows, threads, 'pppipifi', args);
        } else {
          this.cx.launch(`layernorm_${sfx(x.dtype)}`, rows, up32(Math.ceil(d / 4)), 'pppipifi', args);
        }
      }
    } finally {
      disposeCopies(ins, [x, weight, bias]);
    }
    return out;
  }

  /** Whether float16 rows of `cols` and the norm's vectors take the register-row kernels (layernorm8, norm_quantize). */
  private rowVecOk(cols: number, ...ts: (Tensor | null | undefined)[]): boolean {
    return cols > 0 && cols % 8 === 0 && cols <= ROW_VEC_MAX_COLS && ts.every((t) => !t || (t.dtype === 'float16' && t.isContiguous() && aligned16(t)));
  }

  /**
   * quantizeRows(layerNorm(x, weight, bias, options)) for x [rows, k]: where layerNorm takes its
   * register-row kernel (float16, k % 8 == 0, 16-byte aligned), one kernel (norm_quantize_f16 in norm.cu)
   * that normalises each row in registers and quantizes it, bit for bit the two ops, the float16 row never
   * stored; elsewhere the two ops. The int8 linear's norm for more rows than the GEMV takes.
   */
  normQuantizeRows(x: Tensor, weight: Tensor, bias: Tensor | null, options: { eps: number; subtractMean: boolean }): { values: Tensor; scales: Tensor } {
    this.cx.check('normQuantizeRows', x, weight, bias);
    checkRank('normQuantizeRows', x, 2);
    const [rows, k] = x.shape;
    const eps = options?.eps;
    if (!this.rowVecOk(k, x, weight, bias) || weight.rank !== 1 || weight.shape[0] !== k || (bias && (bias.rank !== 1 || bias.shape[0] !== k)) || !(eps >= 0)) {
      const xn = this.layerNorm(x, weight, bias, options);
      try {
        return this.cx.backend.quantizeRows(xn);
      } finally {
        xn.dispose();
      }
    }
    const values = this.cx.makeLt([rows, k], 'int8');
    const scales = this.cx.make([rows], 'float16');
    if (rows > 0) {
      const { items, threads } = rowVecLaunch(k);
      this.cx.launch(`norm_quantize_f16_${items}`, rows, threads, 'pppippifi', [x, weight, bias ?? weight, bias ? 1 : 0, values, scales, k, eps, options.subtractMean ? 1 : 0]);
    }
    return { values, scales };
  }

  gelu(x: Tensor): Tensor {
    this.cx.check('gelu', x);
    checkDType('gelu', x, 'float16', 'float32');
    const out = this.cx.make(x.shape, x.dtype);
    if (x.numel === 0) return out;
    const a = dims4(x, 'gelu');
    this.cx.launch(`gelu_${sfx(x.dtype)}`, gridFor(x.numel), 256, 'ppliiillll', [x, out, x.numel, a.n[1], a.n[2], a.n[3], ...a.s]);
    return out;
  }

  private binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
    this.cx.check(op, a, b);
    checkDType(op, a, 'float16', 'float32');
    checkSameDType(op, a, b);
    checkBroadcastSuffix(op, a, b);
    const ap = this.cx.packed(a);
    const bp = this.cx.packed(b);
    const out = this.cx.make(a.shape, a.dtype);
    try {
      if (a.numel > 0 && b.numel > 0) this.cx.launch(`${op}_${sfx(a.dtype)}`, gridFor(a.numel), 256, 'pppll', [ap, bp, out, a.numel, b.numel]);
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
}
