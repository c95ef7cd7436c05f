// The launch shape of the kernels that hold one float16 row per block in registers (quantize.cu's
// quantize_f16_fast, norm.cu's layernorm8 and norm_quantize). One function, because the norm kernels'
// sums depend on which thread holds which elements: norm_quantize equals layernorm8 followed by the
// quantize only when both are launched alike.

/** The row kernels (quantize_f16_fast, layernorm8, norm_quantize) hold at most 8 vectors of 8 halves in each of 1024 threads. */
export const ROW_VEC_MAX_COLS = 8 * 8 * 1024;

/**
 * The vectorised row kernels' launch for rows of `cols` float16 (cols % 8 == 0, at most ROW_VEC_MAX_COLS):
 * up to 8 vectors of 8 halves per thread, issued back to back (small blocks with several loads in flight
 * each keep more bytes in flight per SM than one load per thread in a large block). quantize_f16_fast,
 * layernorm8 and norm_quantize all launch so: the norm kernels' sums depend on it, and norm_quantize
 * equals layernorm8 then the quantize only with the same ITEMS and threads.
 */
export function rowVecLaunch(cols: number): { items: 1 | 2 | 4 | 8; threads: number } {
  const nvec = cols / 8;
  const items = ([1, 2, 4, 8] as const).find((i) => i * 128 >= nvec) ?? 8;
  return { items, threads: Math.max(32, Math.min(1024, Math.ceil(Math.ceil(nvec / items) / 32) * 32)) };
}

