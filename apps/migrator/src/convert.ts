// One tensor's conversion: to float32 when it must be quantized, transposed to [out, in] when the
// source stores [in, out], then int8 + float16 row scales (linear weights) or float16 (the rest).
import { CheckpointError, float16BitsToFloat32, toFloat16Array, type HostArray } from '@bminf/core';
import type { TensorData } from '@bminf/checkpoint';
import { quantizationError, quantizeWeight, scaleName, type TensorPlan } from '@bminf/models';

export type OutputDType = 'int8' | 'fp16';

export interface Converted {
  outputs: { name: string; data: HostArray }[];
  /** Relative error of the dequantized weight (quantized tensors only). */
  error?: { max: number; mean: number };
}

// float16 → float32 through a table: exact (every half is a float), and far faster than arithmetic.
let table: Float32Array | undefined;
function halfToFloat(bits: Uint16Array): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32(h);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** [rows, cols] → [cols, rows], in blocks so both sides stay in cache. */
function transpose<T extends Float32Array | Uint16Array>(src: T, rows: number, cols: number): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * cols + c];
    }
  }
  return out;
}

export function convertTensor(plan: TensorPlan, t: TensorData, dtype: OutputDType, file: string): Converted {
  if (t.dtype !== 'float32' && t.dtype !== 'float16') {
    throw new CheckpointError(`tensor "${plan.source}" is ${t.dtype}; a float tensor was expected for "${plan.name}".`, {
      file,
      hint: 'This checkpoint does not hold the weights this architecture needs.',
    });
  }
  let data = t.data as Float32Array | Uint16Array;
  if (plan.transpose) data = transpose(data, plan.shape[1], plan.shape[0]);
  if (plan.quantize && dtype === 'int8') {
    const f32 = data instanceof Uint16Array ? halfToFloat(data) : data;
    data = f32; // drop the float16 copy before the int8 one is made
    const [rows, cols] = plan.shape;
    const q = quantizeWeight(f32, rows, cols);
    return {
      outputs: [
        { name: plan.name, data: q.values },
        { name: scaleName(plan.name), data: q.scales },
      ],
      error: quantizationError(f32, rows, cols, q),
    };
  }
  return { outputs: [{ name: plan.name, data: data instanceof Uint16Array ? data : toFloat16Array(data) }] };
}
