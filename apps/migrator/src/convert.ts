// One tensor's conversion: to float32 when it must be quantized, transposed to [out, in] when the
// source stores [in, out], then int8 + float16 row scales (linear weights) or float16 (the rest).
import { CheckpointError, float16BitsToFloat32, float32ToFloat16Bits, type HostArray } from '@bminf/core';
import type { TensorData } from '@bminf/checkpoint';
import { quantizationError, quantizeWeight, scaleName, type TensorPlan } from '@bminf/models/plans';
import type { Accelerator } from './accel.js';
import { Scratch } from './scratch.js';

export type OutputDType = 'int8' | 'fp16';

export interface Converted {
  outputs: { name: string; data: HostArray }[];
  /** Relative error of the dequantized weight (quantized tensors only). */
  error?: { max: number; mean: number };
}

// float16 → float32 through a table: exact (every half is a float), and far faster than arithmetic.
let table: Float32Array | undefined;
function halfToFloat(bits: Uint16Array, out: Float32Array): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32(h);
  }
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** Rounds to float16 bits with core's conversion (the one quantize-on-load uses), into `out`. */
function floatToHalf(src: Float32Array, out: Uint16Array): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = float32ToFloat16Bits(src[i]);
  return out;
}

/** [rows, cols] → [cols, rows] into `out`, in blocks so both sides stay in cache. */
function transpose<T extends Float32Array | Uint16Array>(src: T, rows: number, cols: number, out: T): T {
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

/**
 * Converts one tensor. Outputs may be views over `scratch` buffers (or over the input): write them
 * before the next conversion.
 */
export function convertTensor(
  plan: TensorPlan,
  t: TensorData,
  dtype: OutputDType,
  file: string,
  scratch = new Scratch(),
  accel: Accelerator | null = null,
): Converted {
  if (t.dtype !== 'float32' && t.dtype !== 'float16') {
    throw new CheckpointError(`tensor "${plan.source}" is ${t.dtype}; a float tensor was expected for "${plan.name}".`, {
      file,
      hint: 'This checkpoint does not hold the weights this architecture needs.',
    });
  }
  let data = t.data as Float32Array | Uint16Array;
  const n = data.length;
  if (plan.transpose) {
    const out = data instanceof Uint16Array ? scratch.uint16('transpose', n) : scratch.float32('transpose', n);
    data = transpose(data, plan.shape[1], plan.shape[0], out);
  }
  if (plan.quantize && dtype === 'int8') {
    const f32 = data instanceof Uint16Array ? halfToFloat(data, scratch.float32('float32', n)) : data;
    const [rows, cols] = plan.shape;
    let q: { values: Int8Array; scales: Uint16Array };
    if (accel) {
      q = { values: new Int8Array(scratch.get('int8', n), 0, n), scales: scratch.uint16('scales', rows) };
      accel.quantize(f32, rows, cols, q.values, q.scales);
    } else {
      q = quantizeWeight(f32, rows, cols);
    }
    return {
      outputs: [
        { name: plan.name, data: q.values },
        { name: scaleName(plan.name), data: q.scales },
      ],
      error: quantizationError(f32, rows, cols, q),
    };
  }
  if (data instanceof Uint16Array) return { outputs: [{ name: plan.name, data }] };
  const half = scratch.uint16('float16', n);
  if (accel) accel.toHalf(data, half);
  else floatToHalf(data, half);
  return { outputs: [{ name: plan.name, data: half }] };
}
