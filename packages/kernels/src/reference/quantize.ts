// Plain references for BMInf's quantization path: simple loops, exact integer and float32 arithmetic
// (Math.fround at each float32 step), to check the fast kernels bit for bit.
import { float16BitsToFloat32, float32ToFloat16Bits } from '@bminf/core';

/** Rounds to the nearest integer, ties to even (C's nearbyint in the default rounding mode). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Row quantization for x [rows, cols] (float32 values; float16 inputs converted first):
 * scale16 = float16(absmax / 127), q = clamp(nearbyint(x / float(scale16)), -127, 127) in float32;
 * scale 0 gives q = 0, NaN gives 0.
 */
export function quantizeRows(x: ArrayLike<number>, rows: number, cols: number): { values: Int8Array; scales: Uint16Array } {
  const values = new Int8Array(rows * cols);
  const scales = new Uint16Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let j = 0; j < cols; j++) {
      const a = Math.abs(x[r * cols + j]);
      if (a > amax) amax = a; // NaN is skipped, as in the kernels
    }
    const s16 = float32ToFloat16Bits(Math.fround(amax / 127));
    const scale = float16BitsToFloat32(s16);
    scales[r] = s16;
    for (let j = 0; j < cols; j++) {
      if (scale === 0) continue;
      const v = roundHalfEven(Math.fround(x[r * cols + j] / scale));
      values[r * cols + j] = Number.isNaN(v) ? 0 : Math.max(-127, Math.min(127, v));
    }
  }
  return { values, scales };
}

/** C[m, n] = A[m, k] · B[n, k]ᵀ in exact integers. */
export function igemm(a: Int8Array, b: Int8Array, m: number, n: number, k: number): Int32Array {
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * n + j] = s;
    }
  return c;
}

/** out[i, j] = float32(acc) · rowScale[i] · colScale[j] (+ bias[j]), each step in float32. */
export function dequantize(
  acc: Int32Array, rowScale: Uint16Array, colScale: Uint16Array, bias: ArrayLike<number> | null, m: number, n: number,
): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const rs = float16BitsToFloat32(rowScale[i]);
    for (let j = 0; j < n; j++) {
      let v = Math.fround(Math.fround(Math.fround(acc[i * n + j]) * rs) * float16BitsToFloat32(colScale[j]));
      if (bias) v = Math.fround(v + bias[j]);
      out[i * n + j] = v;
    }
  }
  return out;
}
