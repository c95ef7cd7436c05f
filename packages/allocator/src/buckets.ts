// Size buckets of the pools: sizes are rounded up so that a freed buffer fits many later requests
// of about its size, wasting at most 1/8 (plus 64 bytes at the small end).

/** The smallest bucket, and the granularity of small ones: 64 bytes, a cache line. */
export const MIN_BUCKET = 64;

/**
 * Rounds `bytes` up to its bucket: multiples of 64 up to 1 KiB, then 8 steps per power of two
 * (1024, 1152, 1280, ... 1920, 2048, 2304, ...). 0 bytes gets the smallest bucket.
 */
export function bucketSize(bytes: number): number {
  if (bytes <= 1024) return Math.max(MIN_BUCKET, Math.ceil(bytes / MIN_BUCKET) * MIN_BUCKET);
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 8;
  return Math.ceil(bytes / step) * step;
}
