// The native addon's CPU kernels for the two hot loops (row quantization, float32 → float16), loaded
// on demand: when the addon cannot be loaded, the TypeScript path runs instead. Both give the same
// bytes (the addon's quantizeRows is bit-identical to quantizeWeight; the tests compare them).
import type { NativeCpu } from '@bminf/kernels';

export interface Accelerator {
  /** BMInf's row quantization of x [rows, cols] into values and scales. */
  quantize(x: Float32Array | Uint16Array, rows: number, cols: number, values: Int8Array, scales: Uint16Array): void;
  /** float32 → float16 bits, round to nearest even. */
  toHalf(src: Float32Array, dst: Uint16Array): void;
}

export async function loadAccelerator(): Promise<Accelerator | null> {
  let cpu: NativeCpu;
  try {
    cpu = (await import('@bminf/kernels')).nativeCpu;
    if (typeof cpu?.quantizeRows !== 'function' || typeof cpu?.copy !== 'function') return null;
  } catch {
    return null;
  }
  return {
    quantize: (x, rows, cols, values, scales) => cpu.quantizeRows(x, 0, rows, cols, values, 0, scales, 0),
    toHalf: (src, dst) => {
      if (src.length > 0) cpu.copy(src, 0, [1], dst, 0, [1], [src.length]);
    },
  };
}
