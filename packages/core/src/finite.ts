// Damaged weights: one NaN or infinity in a weight silently changes every output that reads it, so
// the loader and the migrator count them and refuse the tensor.

/** How many values of `data` are NaN or ±Infinity; a Uint16Array holds float16 bits (exponent all ones). */
export function countNonFinite(data: Float32Array | Uint16Array): number {
  let n = 0;
  if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) if ((data[i] & 0x7c00) === 0x7c00) n++;
  } else {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) n++;
  }
  return n;
}
