import { float16BitsToFloat32, float32ToFloat16Bits } from '@bminf/core';

/**
 * BMInf's weight quantization for a [rows, cols] float32 matrix: per row, scale = absmax / 127 stored
 * as float16, q = clamp(nearbyint(w / scale16), -127, 127) (round half to even). A zero row gets scale
 * 0. The same arithmetic as the quantizeRows kernels, so quantize-on-load and the migrator agree.
 */
export function quantizeWeight(data: Float32Array, rows: number, cols: number): { values: Int8Array; scales: Uint16Array } {
  const values = new Int8Array(rows * cols);
  const scales = new Uint16Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let absmax = 0;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(data[base + c]);
      if (a > absmax) absmax = a;
    }
    const s16 = float32ToFloat16Bits(Math.fround(absmax / 127));
    scales[r] = s16;
    const scale = float16BitsToFloat32(s16);
    if (scale === 0) continue;
    for (let c = 0; c < cols; c++) {
      const q = roundHalfEven(Math.fround(data[base + c] / scale));
      values[base + c] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales };
}

/** nearbyint under the default rounding mode: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Max and mean relative error of the dequantized weights: |w - q·s| / absmax(row), relative to the
 * row's largest weight so that near-zero weights do not dominate the figure.
 */
export function quantizationError(data: Float32Array, rows: number, cols: number, q: { values: Int8Array; scales: Uint16Array }): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const s = float16BitsToFloat32(q.scales[r]);
    const absmax = s * 127;
    if (absmax === 0) continue;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const e = Math.abs(data[i] - q.values[i] * s) / absmax;
      if (e > max) max = e;
      sum += e;
    }
  }
  return { max, mean: rows * cols ? sum / (rows * cols) : 0 };
}
