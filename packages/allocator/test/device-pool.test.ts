import { InvalidArgumentError, OutOfMemoryError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { DevicePool, type DeviceBlock } from '@bminf/allocator';

// A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertNoOverlap(pool: DevicePool): void {
  // Plain checks, not expect(): this runs 10,000 times over hundreds of blocks.
  const blocks = pool.liveBlocks();
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (b.offset % pool.alignment !== 0) throw new Error(`block at ${b.offset} is not aligned`);
    if (b.offset + b.size > pool.capacity) throw new Error(`block at ${b.offset} runs past the pool`);
    if (i > 0) {
      const a = blocks[i - 1];
      if (a.offset + a.size > b.offset) throw new Error(`blocks [${a.offset}, +${a.size}) and [${b.offset}, +${b.size}) overlap`);
    }
  }
}

describe('DevicePool', () => {
  it('aligns blocks to 256 bytes and rounds sizes up', () => {
    const pool = new DevicePool(1 << 20);
    const a = pool.allocate(1);
    const b = pool.allocate(300);
    const c = pool.allocate(0);
    expect([a.offset, a.size, b.offset, b.size, c.offset, c.size]).toEqual([0, 256, 256, 512, 768, 256]);
    expect(pool.stats().bytesInUse).toBe(1024);
  });

  it('picks the best-fitting free block and coalesces freed neighbours', () => {
    const pool = new DevicePool(10 * 256);
    const blocks = [1, 3, 1, 2, 1].map((u) => pool.allocate(u * 256));
    pool.free(blocks[1]); // a 3-unit hole at 256
    pool.free(blocks[3]); // a 2-unit hole at 5*256
    const fit = pool.allocate(2 * 256);
    expect(fit.offset).toBe(5 * 256); // the 2-unit hole, not the first (3-unit) one
    pool.free(fit);
    pool.free(blocks[2]); // joins 256..(4*256) with 5*256..(7*256) through it
    expect(pool.stats().freeBlocks).toBe(2); // [256, 7*256) and the tail [8*256, 10*256)
    expect(pool.stats().largestFreeBlock).toBe(6 * 256);
    pool.free(blocks[0]);
    pool.free(blocks[4]);
    expect(pool.stats()).toMatchObject({ bytesInUse: 0, freeBlocks: 1, largestFreeBlock: 10 * 256, fragmentation: 0 });
  });

  it('10,000 random allocate/free cycles: never an overlap, zero bytes in use at the end', () => {
    const next = rng(1234);
    const pool = new DevicePool(64 << 20);
    const live: DeviceBlock[] = [];
    let ooms = 0;
    for (let i = 0; i < 10_000; i++) {
      if (live.length > 0 && (next() < 0.45 || live.length > 400)) {
        const j = Math.floor(next() * live.length);
        pool.free(live[j]);
        live[j] = live[live.length - 1];
        live.pop();
      } else {
        // Mostly small, sometimes large requests, at odd sizes.
        const bytes = next() < 0.1 ? Math.floor(next() * (8 << 20)) : Math.floor(next() * 70_000);
        try {
          live.push(pool.allocate(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(OutOfMemoryError);
          ooms++;
        }
      }
      assertNoOverlap(pool);
      const s = pool.stats();
      const expected = live.reduce((n, b) => n + b.size, 0);
      if (s.bytesInUse !== expected || s.liveBlocks !== live.length) {
        throw new Error(`step ${i}: the pool counts ${s.bytesInUse} bytes in ${s.liveBlocks} blocks, the test ${expected} in ${live.length}`);
      }
    }
    for (const b of live) pool.free(b);
    const s = pool.stats();
    expect(s.bytesInUse).toBe(0);
    expect(s.freeBlocks).toBe(1);
    expect(s.largestFreeBlock).toBe(pool.capacity);
    expect(s.peakBytesInUse).toBeGreaterThan(0);
    expect(ooms).toBeGreaterThanOrEqual(0);
  });

  it('out of memory names the request and the largest free block, and leaves the pool usable', () => {
    const pool = new DevicePool(4096, { name: 'cuda:0' });
    const a = pool.allocate(1024);
    const b = pool.allocate(1024);
    pool.allocate(1024);
    pool.free(a); // free: 1024 at 0, 1024 at 3072: 2 KiB free, largest 1 KiB
    expect(() => pool.allocate(2000)).toThrow(OutOfMemoryError);
    try {
      pool.allocate(2000);
    } catch (e) {
      const err = e as OutOfMemoryError;
      expect(err.requestedBytes).toBe(2000);
      expect(err.freeBytes).toBe(1024);
      expect(err.message).toMatch(/asked for 2\.0 KiB/);
      expect(err.message).toMatch(/largest free block is 1\.0 KiB/);
      expect(err.message).toMatch(/cuda:0/);
    }
    expect(pool.stats().fragmentation).toBeCloseTo(0.5);
    const c = pool.allocate(1000);
    expect(c.offset).toBe(0);
    pool.free(b);
    expect(pool.allocate(1024).offset).toBe(1024); // best fit, lowest offset among equals
  });

  it('rejects bad arguments and double frees', () => {
    const pool = new DevicePool(4096);
    expect(() => pool.allocate(-1)).toThrow(InvalidArgumentError);
    expect(() => pool.allocate(1.5)).toThrow(/non-negative integer/);
    expect(() => new DevicePool(4096, { alignment: 100 })).toThrow(/power of two/);
    const a = pool.allocate(10);
    pool.free(a);
    expect(() => pool.free(a)).toThrow(/not live/);
  });
});
