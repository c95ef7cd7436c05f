// Fewer dimensions for strided copies: the native copy takes rank <= 4, and most higher-rank views
// (and many low-rank ones) are packed along some of their dimensions.

export interface CopyPlan {
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
}

/**
 * Drops dimensions of size 1 and merges neighbours that are contiguous with each other in both views
 * (stride[i] === stride[i + 1] · shape[i + 1]), which leaves the elements visited, and their order,
 * unchanged.
 */
export function collapseDims(shape: readonly number[], srcStrides: readonly number[], dstStrides: readonly number[]): CopyPlan {
  const out: CopyPlan = { shape: [], srcStrides: [], dstStrides: [] };
  if (shape.some((d) => d === 0)) return { shape: [0], srcStrides: [1], dstStrides: [1] };
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = out.shape.length - 1;
    if (
      last >= 0 &&
      out.srcStrides[last] === srcStrides[i] * shape[i] &&
      out.dstStrides[last] === dstStrides[i] * shape[i]
    ) {
      out.shape[last] *= shape[i];
      out.srcStrides[last] = srcStrides[i];
      out.dstStrides[last] = dstStrides[i];
    } else {
      out.shape.push(shape[i]);
      out.srcStrides.push(srcStrides[i]);
      out.dstStrides.push(dstStrides[i]);
    }
  }
  return out;
}
