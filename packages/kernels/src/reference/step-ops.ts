// Plain references for the ops of planned steps (Backend.scatterRows, Backend.attendCache), in float64.
// Arrays are packed, row-major.

/** dst with dst[index[i], :] = src[i, :] for src [n, w], dst [R, w]; indices outside [0, R) skipped. */
export function scatterRows(src: ArrayLike<number>, dst: ArrayLike<number>, index: ArrayLike<number>, w: number): number[] {
  const out = Array.from(dst);
  const rows = w === 0 ? 0 : dst.length / w;
  for (let i = 0; i < index.length; i++) {
    const r = index[i];
    if (r < 0 || r >= rows) continue;
    for (let j = 0; j < w; j++) out[r * w + j] = src[i * w + j];
  }
  return out;
}

/**
 * One query per sequence over its cached rows: q [B, H·D], keys and values [B·slotRows, H·D], lengths
 * [B] (clamped to [0, slotRows]), distanceBias [H, slotRows] by distance from the query, or none.
 * out[b, h·D + e] = Σ_{j<L} p_j · values[b·slotRows + j, h·D + e], p = softmax_j(scale · q·k_j +
 * bias[h, L - 1 - j]); zeros when L = 0.
 */
export function attendCache(
  q: ArrayLike<number>, keys: ArrayLike<number>, values: ArrayLike<number>, lengths: ArrayLike<number>,
  o: { batch: number; heads: number; headDim: number; slotRows: number; scale: number; distanceBias?: ArrayLike<number> },
): Float64Array {
  const { batch, heads, headDim: d, slotRows, scale } = o;
  const width = heads * d;
  const out = new Float64Array(batch * width);
  for (let b = 0; b < batch; b++) {
    const len = Math.min(Math.max(lengths[b], 0), slotRows);
    for (let h = 0; h < heads; h++) {
      if (len === 0) continue;
      const s: number[] = [];
      for (let j = 0; j < len; j++) {
        let dot = 0;
        for (let e = 0; e < d; e++) dot += q[b * width + h * d + e] * keys[(b * slotRows + j) * width + h * d + e];
        s.push(scale * dot + (o.distanceBias ? o.distanceBias[h * slotRows + len - 1 - j] : 0));
      }
      const mx = Math.max(...s);
      const p = s.map((v) => Math.exp(v - mx));
      const sum = p.reduce((a, v) => a + v, 0);
      for (let j = 0; j < len; j++)
        for (let e = 0; e < d; e++) out[b * width + h * d + e] += (p[j] / sum) * values[(b * slotRows + j) * width + h * d + e];
    }
  }
  return out;
}
