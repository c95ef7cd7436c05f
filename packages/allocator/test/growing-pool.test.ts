import { InvalidArgumentError, OutOfMemoryError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { GrowingDevicePool, type SegmentBlock } from '@bminf/allocator';

const MiB = 2 ** 20;

/** A pool whose "driver" hands out numbered regions and records every reservation. */
function pool(limit: number, chunk = 4 * MiB) {
  const reservations: number[] = [];
  const p = new GrowingDevicePool<number>({
    limit,
    chunk,
    name: 'test:0',
    reserve: (bytes) => {
      reservations.push(bytes);
      return reservations.length - 1;
    },
  });
  return { p, reservations };
}

describe('GrowingDevicePool', () => {
  it('reserves nothing until asked; small requests share chunks, large ones get segments of their own size', () => {
    const { p, reservations } = pool(64 * MiB);
    expect(p.stats().reserved).toBe(0);
    const a = p.allocate(1000);
    expect(reservations).toEqual([4 * MiB]);
    const b = p.allocate(MiB);
    expect(reservations).toEqual([4 * MiB]); // fits the first chunk
    expect(b.region).toBe(a.region);
    const c = p.allocate(3 * MiB); // more than half a chunk: its own segment, rounded to 2 MiB
    expect(reservations).toEqual([4 * MiB, 4 * MiB]);
    const big = p.allocate(10 * MiB + 5);
    expect(reservations[2]).toBe(12 * MiB);
    const s = p.stats();
    expect(s.reserved).toBe(20 * MiB);
    expect(s.segments).toBe(3);
    expect(s.bytesInUse).toBe(1024 + MiB + 3 * MiB + 10 * MiB + 256);
    for (const x of [a, b, c, big]) p.free(x);
    expect(p.stats().bytesInUse).toBe(0);
    // Freed space is reused before anything new is reserved.
    p.allocate(10 * MiB);
    expect(reservations.length).toBe(3);
  });

  it('never reserves past its limit: gives empty segments back first, then says what is reserved and in use', () => {
    const released: number[] = [];
    const reservations: number[] = [];
    const p = new GrowingDevicePool<number>({
      limit: 16 * MiB,
      chunk: 4 * MiB,
      name: 'test:0',
      reserve: (bytes) => reservations.push(bytes) - 1,
      release: (r) => released.push(r),
    });
    const x = p.allocate(6 * MiB);
    const y = p.allocate(6 * MiB);
    p.free(x); // an empty 6 MiB segment stays for reuse ...
    const z = p.allocate(8 * MiB); // ... until 6 + 6 + 8 would pass the limit: it goes back, then 8 MiB is reserved
    expect(released).toEqual([0]);
    expect(reservations).toEqual([6 * MiB, 6 * MiB, 8 * MiB]);
    expect(() => p.allocate(4 * MiB)).toThrow(OutOfMemoryError); // 14 MiB reserved and in use
    try {
      p.allocate(4 * MiB);
    } catch (e) {
      expect(String((e as Error).message)).toMatch(/limit 16(\.0)? MiB, 14(\.0)? MiB reserved, 14(\.0)? MiB in use/);
    }
    p.free(y);
    p.free(z);
    expect(p.allocate(MiB).region).toBeLessThanOrEqual(2); // a kept segment serves it
  });

  it('keeps blocks apart under random traffic and returns to zero', () => {
    const { p } = pool(512 * MiB, 8 * MiB);
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    const live: SegmentBlock<number>[] = [];
    for (let i = 0; i < 3000; i++) {
      // Frees when 96 MiB are in use: the pool must serve it without passing its 512 MiB limit.
      if (live.length > 0 && (rnd() < 0.45 || p.stats().bytesInUse > 96 * MiB)) p.free(live.splice(Math.floor(rnd() * live.length), 1)[0]);
      else live.push(p.allocate(Math.floor(rnd() * rnd() * 12 * MiB)));
      // No two live blocks of one segment overlap.
      const bySeg = new Map<number, SegmentBlock<number>[]>();
      for (const b of live) bySeg.set(b.segment, [...(bySeg.get(b.segment) ?? []), b]);
      for (const bs of bySeg.values()) {
        bs.sort((x, y) => x.block.offset - y.block.offset);
        for (let j = 1; j < bs.length; j++) {
          if (bs[j - 1].block.offset + bs[j - 1].block.size > bs[j].block.offset) throw new Error('overlap');
        }
      }
    }
    expect(p.stats().reserved).toBeLessThanOrEqual(512 * MiB);
    for (const b of live) p.free(b);
    expect(p.stats().bytesInUse).toBe(0);
  });

  it('refuses a limit below what it reserved, and frees of foreign blocks', () => {
    const { p } = pool(64 * MiB);
    const a = p.allocate(MiB);
    expect(() => p.setLimit(MiB)).toThrow(InvalidArgumentError);
    p.setLimit(32 * MiB);
    expect(p.limit).toBe(32 * MiB);
    const other = pool(64 * MiB).p.allocate(MiB);
    expect(() => p.free(other)).toThrow(InvalidArgumentError);
    p.free(a);
    expect(() => p.free(a)).toThrow(InvalidArgumentError);
  });
});

describe('GrowingDevicePool with doubling segments (a step arena)', () => {
  it('makes each new segment at least as large as the ones before, so a step of many temporaries takes few', () => {
    const reservations: number[] = [];
    const p = new GrowingDevicePool<number>({
      limit: 2 ** 40,
      chunk: MiB,
      doubling: true,
      reserve: (bytes) => reservations.push(bytes) - 1,
    });
    for (let i = 0; i < 100; i++) p.allocate(100 * 1024); // 10 MB of small live temporaries
    expect(reservations.length).toBeLessThanOrEqual(5);
    expect(reservations).toEqual([...reservations].sort((a, b) => a - b));
    expect(p.stats().reserved).toBeLessThan(2 * 100 * 100 * 1024 + 2 * MiB);
  });
});
