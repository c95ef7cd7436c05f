// Plain references for the float ops, in float64 (the kernels compute in float32; tests compare with
// a tolerance that suits the dtype). Arrays are packed, row-major.

/** out[b] = alpha · op(A[b]) · op(B[b]); A [batch, m, k] ([batch, k, m] when transA), B [batch, k, n] ([batch, n, k] when transB). */
export function gemm(
  a: ArrayLike<number>, b: ArrayLike<number>,
  o: { batch: number; m: number; n: number; k: number; transA?: boolean; transB?: boolean; alpha?: number },
): Float64Array {
  const { batch, m, n, k } = o;
  const alpha = o.alpha ?? 1;
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const ao = t * m * k;
    const bo = t * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = o.transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = o.transB ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        out[t * m * n + i * n + j] = alpha * s;
      }
  }
  return out;
}

export function layerNorm(
  x: ArrayLike<number>, rows: number, cols: number, weight: ArrayLike<number>, bias: ArrayLike<number> | null,
  eps: number, subtractMean: boolean,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (subtractMean) {
      for (let j = 0; j < cols; j++) mean += x[r * cols + j];
      mean /= cols;
    }
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += (x[r * cols + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(sq / cols + eps);
    for (let j = 0; j < cols; j++) out[r * cols + j] = (x[r * cols + j] - mean) * inv * weight[j] + (bias ? bias[j] : 0);
  }
  return out;
}

export function gelu(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)));
  }
  return out;
}

/**
 * softmax(scale · x + bias) over the last dimension of x [batch, rows, cols], masking col > row +
 * causalOffset; bias [batch, rows, cols] or [rows, cols] (broadcast). Rows with nothing left are 0.
 */
export function softmax(
  x: ArrayLike<number>, batch: number, rows: number, cols: number,
  o: { scale?: number; causalOffset?: number; bias?: ArrayLike<number>; biasBroadcast?: boolean } = {},
): Float64Array {
  const scale = o.scale ?? 1;
  const out = new Float64Array(batch * rows * cols);
  for (let t = 0; t < batch; t++)
    for (let r = 0; r < rows; r++) {
      const base = (t * rows + r) * cols;
      const bbase = o.biasBroadcast ? r * cols : base;
      const valid = o.causalOffset === undefined ? cols : Math.max(0, Math.min(cols, r + o.causalOffset + 1));
      const v: number[] = [];
      for (let j = 0; j < valid; j++) v.push(scale * x[base + j] + (o.bias ? o.bias[bbase + j] : 0));
      const mx = Math.max(...v, -Infinity);
      if (mx === -Infinity) continue;
      const e = v.map((y) => Math.exp(y - mx));
      const sum = e.reduce((s, y) => s + y, 0);
      for (let j = 0; j < valid; j++) out[base + j] = e[j] / sum;
    }
  return out;
}

export function embedding(ids: ArrayLike<number>, table: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = table[ids[i] * dim + j];
  return out;
}

/** a op b, b repeated over a (b's shape is a suffix of a's). */
export function binary(op: 'add' | 'mul', a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const y = b[i % b.length];
    out[i] = op === 'add' ? a[i] + y : a[i] * y;
  }
  return out;
}

/** Elements of a strided view (offset, shape, strides) of `data`, packed row-major. */
export function gather(data: ArrayLike<number>, offset: number, shape: readonly number[], strides: readonly number[]): number[] {
  const out: number[] = [];
  const idx = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((s, d) => s * d, 1);
  for (let e = 0; e < total; e++) {
    let at = offset;
    for (let d = 0; d < shape.length; d++) at += idx[d] * strides[d];
    out.push(data[at]);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
