import { InvalidArgumentError, OutOfMemoryError, Tensor } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { HostPool, bucketSize } from '@bminf/allocator';

describe('bucketSize', () => {
  it('rounds small sizes to 64-byte multiples and large ones to eighths of a power of two', () => {
    expect(bucketSize(0)).toBe(64);
    expect(bucketSize(1)).toBe(64);
    expect(bucketSize(64)).toBe(64);
    expect(bucketSize(65)).toBe(128);
    expect(bucketSize(1024)).toBe(1024);
    expect(bucketSize(1025)).toBe(1152);
    expect(bucketSize(2048)).toBe(2048);
    expect(bucketSize(2049)).toBe(2304);
    for (let n = 1; n < 1 << 22; n = Math.ceil(n * 1.37) + 1) {
      const b = bucketSize(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b % 64).toBe(0);
      expect(b).toBeLessThanOrEqual(Math.max(64, n * 1.125 + 64));
    }
  });
});

describe('HostPool', () => {
  it('hands out storages of the size asked for and counts bytes in use', () => {
    const pool = new HostPool();
    const a = pool.allocate(100);
    expect(a.byteLength).toBe(100);
    expect(a.buffer.byteLength).toBe(128);
    expect(pool.stats.bytesInUse).toBe(128);
    const b = pool.allocate(3000);
    expect(pool.stats.bytesInUse).toBe(128 + 3072);
    a.dispose();
    expect(pool.stats.bytesInUse).toBe(3072);
    expect(pool.stats.bytesCached).toBe(128);
    expect(pool.stats.peakBytesInUse).toBe(128 + 3072);
    b.dispose();
    expect(pool.stats.bytesInUse).toBe(0);
  });

  it('reuses a freed buffer of the same bucket', () => {
    const pool = new HostPool();
    const a = pool.allocate(5000);
    const buf = a.buffer;
    a.dispose();
    a.dispose(); // twice is harmless: the buffer is not listed twice
    const b = pool.allocate(4900);
    expect(b.buffer).toBe(buf);
    const c = pool.allocate(4900);
    expect(c.buffer).not.toBe(buf);
    expect(pool.stats.allocations).toBe(3);
    expect(pool.stats.reuses).toBe(1);
  });

  it('frees tensors storage back to the pool on tensor dispose', () => {
    const pool = new HostPool();
    const t = new Tensor({ storage: pool.allocate(4 * 10), dtype: 'float32', shape: [10] });
    expect(pool.stats.bytesInUse).toBe(64);
    t.dispose();
    expect(pool.stats.bytesInUse).toBe(0);
    expect(pool.stats.bytesCached).toBe(64);
  });

  it('throws OutOfMemoryError naming the size asked for and what is free', () => {
    const pool = new HostPool({ limitBytes: 10_000 });
    const a = pool.allocate(8000);
    const err = (() => {
      try {
        pool.allocate(4096);
      } catch (e) {
        return e as OutOfMemoryError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err!.message).toMatch(/asked for 4\.0 KiB, 1\.8 KiB free/);
    expect(err!.requestedBytes).toBe(4096);
    expect(err!.freeBytes).toBe(10_000 - 8192);
    a.dispose();
    // The cached 8 KiB buffer is dropped to make room for a request of another bucket.
    const b = pool.allocate(9000);
    expect(b.byteLength).toBe(9000);
    expect(pool.stats.bytesCached).toBe(0);
  });

  it('rejects sizes that are not non-negative integers', () => {
    const pool = new HostPool();
    expect(() => pool.allocate(-1)).toThrow(InvalidArgumentError);
    expect(() => pool.allocate(1.5)).toThrow(/non-negative integer/);
    expect(() => new HostPool({ limitBytes: -5 })).toThrow(InvalidArgumentError);
  });

  it('stops caching after dispose', () => {
    const pool = new HostPool();
    const a = pool.allocate(100);
    pool.dispose();
    a.dispose();
    expect(pool.stats.bytesCached).toBe(0);
    expect(pool.stats.bytesInUse).toBe(0);
  });
});

describe('HostPool poison (BMINF_POISON=1)', () => {
  it('hands out every buffer filled with 0xff, fresh or reused, so reads of unwritten memory show as NaN', () => {
    const pool = new HostPool({ poison: true });
    const a = pool.allocate(64);
    expect([...new Uint8Array(a.buffer, a.byteOffset, 64)].every((v) => v === 0xff)).toBe(true);
    new Uint8Array(a.buffer, a.byteOffset, 64).fill(7);
    a.dispose();
    const b = pool.allocate(64);
    expect(pool.stats.reuses).toBe(1);
    expect(Number.isNaN(new Float32Array(b.buffer, b.byteOffset, 16)[3])).toBe(true);
    expect(new Int32Array(b.buffer, b.byteOffset, 16)[0]).toBe(-1);
  });

  it('is off unless asked for: a reused buffer keeps what its last user wrote', () => {
    const pool = new HostPool({ poison: false });
    const a = pool.allocate(16);
    new Uint8Array(a.buffer, a.byteOffset, 16).fill(7);
    a.dispose();
    const b = pool.allocate(16);
    expect(new Uint8Array(b.buffer, b.byteOffset, 16)[0]).toBe(7);
  });
});
