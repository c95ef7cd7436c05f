// Device memory taken as it is needed (BMInf's users asked for it, its issue #43), instead of one
// reservation of nearly all free memory at start: the pool holds segments, each one reservation from
// the driver carved by a DevicePool, and reserves another segment only when no segment has room, up to
// a limit. A segment is at least `chunk` bytes, so that small tensors do not each cost a driver call,
// and exactly the request when that is larger (a large weight gets a segment of its own size). Segments
// are kept once reserved: a CUDA graph may hold addresses inside them, and giving memory back would
// need a synchronisation in the middle of a free.
import { InvalidArgumentError, OutOfMemoryError, formatBytes } from '@bminf/core';
import { type DeviceBlock, DevicePool, type DevicePoolStats } from './device-pool.js';

export interface GrowingPoolOptions<R> {
  /** The most bytes all segments together may hold. */
  limit: number;
  /** Reserves `bytes` of device memory from the driver (throws when it cannot). */
  reserve: (bytes: number) => R;
  /** The smallest segment, in bytes. Default 256 MiB. */
  chunk?: number;
  /**
   * Each new segment at least as large as all before it together (a step's arena, whose size is not
   * known ahead: few segments, at most twice its peak). Default false: segments of `chunk` bytes.
   */
  doubling?: boolean;
  /** Block alignment, as DevicePool's. Default 256. */
  alignment?: number;
  /** How the pool is named in errors ("cuda:0"). */
  name?: string;
}

/** A block of one segment. */
export interface SegmentBlock<R> {
  readonly region: R;
  readonly segment: number;
  readonly block: DeviceBlock;
}

export interface GrowingPoolStats extends DevicePoolStats {
  /** Bytes reserved from the driver (the sum of the segments). */
  reserved: number;
  /** The most bytes the pool may reserve. */
  limit: number;
  segments: number;
}

interface Segment<R> {
  region: R;
  pool: DevicePool;
}

export class GrowingDevicePool<R> {
  readonly chunk: number;
  readonly alignment: number;
  readonly name: string;
  private _limit: number;
  private readonly reserveFn: (bytes: number) => R;
  private readonly doubling: boolean;
  private readonly segments: Segment<R>[] = [];
  private peak = 0;

  constructor(options: GrowingPoolOptions<R>) {
    this.alignment = options.alignment ?? 256;
    this.chunk = options.chunk ?? 256 * 2 ** 20;
    this.name = options.name ?? 'the device';
    this.reserveFn = options.reserve;
    this.doubling = options.doubling ?? false;
    if (!Number.isSafeInteger(this.chunk) || this.chunk < this.alignment) {
      throw new InvalidArgumentError(`GrowingDevicePool: chunk must be an integer of at least ${this.alignment} bytes but is ${this.chunk}.`);
    }
    this._limit = 0;
    this.setLimit(options.limit);
  }

  get limit(): number {
    return this._limit;
  }

  /** Bytes reserved from the driver so far. */
  get reserved(): number {
    return this.segments.reduce((s, g) => s + g.pool.capacity, 0);
  }

  /**
   * Changes the most the pool may reserve. It cannot go below what is reserved already (segments are
   * not given back); the error says how much that is.
   */
  setLimit(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < this.alignment) {
      throw new InvalidArgumentError(`The device memory limit must be an integer of at least ${this.alignment} bytes, but is ${bytes}.`);
    }
    const reserved = this.reserved;
    if (bytes < reserved) {
      throw new InvalidArgumentError(`A device memory limit of ${formatBytes(bytes)} is below the ${formatBytes(reserved)} ${this.name} has reserved already.`, {
        hint: 'Set the limit before loading models, or raise it.',
      });
    }
    this._limit = bytes;
  }

  allocate(bytes: number): SegmentBlock<R> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new InvalidArgumentError(`GrowingDevicePool.allocate: bytes must be a non-negative integer but is ${bytes}.`);
    }
    const size = Math.max(this.alignment, Math.ceil(bytes / this.alignment) * this.alignment);
    // Best fit over every segment: the one whose largest free block is the smallest that holds it.
    let best = -1;
    let bestFree = Infinity;
    this.segments.forEach((g, i) => {
      const free = g.pool.largestFree();
      if (free >= size && free < bestFree) {
        best = i;
        bestFree = free;
      }
    });
    if (best < 0) best = this.grow(size, bytes);
    const g = this.segments[best];
    const block = g.pool.allocate(bytes);
    this.peak = Math.max(this.peak, this.bytesInUse());
    return { region: g.region, segment: best, block };
  }

  free(b: SegmentBlock<R>): void {
    const g = this.segments[b.segment];
    if (!g || g.region !== b.region) throw new InvalidArgumentError('GrowingDevicePool.free: the block is not from this pool.');
    g.pool.free(b.block);
  }

  /** Reserves a segment for `size` bytes; its index. */
  private grow(size: number, requested: number): number {
    const reserved = this.reserved;
    const room = this._limit - reserved;
    if (size > room) {
      const largest = Math.max(0, ...this.segments.map((g) => g.pool.largestFree()));
      throw new OutOfMemoryError(
        `${this.name} (limit ${formatBytes(this._limit)}, ${formatBytes(reserved)} reserved, ${formatBytes(this.bytesInUse())} in use)`,
        requested,
        Math.max(largest, room),
        `The largest free block is ${formatBytes(largest)} and ${formatBytes(Math.max(0, room))} more may be reserved. ` +
          'Use a smaller model, batch or context, or raise the memory limit.',
      );
    }
    const bytes = Math.min(room - (room % this.alignment), Math.max(size, this.chunk, this.doubling ? reserved : 0));
    const region = this.reserveFn(bytes);
    this.segments.push({ region, pool: new DevicePool(bytes, { alignment: this.alignment, name: this.name }) });
    return this.segments.length - 1;
  }

  private bytesInUse(): number {
    return this.segments.reduce((s, g) => s + g.pool.stats().bytesInUse, 0);
  }

  /** The segments' regions (to release them when the backend goes). */
  regions(): R[] {
    return this.segments.map((g) => g.region);
  }

  stats(): GrowingPoolStats {
    const per = this.segments.map((g) => g.pool.stats());
    const sum = (f: (s: DevicePoolStats) => number) => per.reduce((a, s) => a + f(s), 0);
    const reserved = sum((s) => s.capacity);
    const inUse = sum((s) => s.bytesInUse);
    const free = reserved - inUse;
    const largest = Math.max(0, ...per.map((s) => s.largestFreeBlock));
    return {
      capacity: this._limit,
      reserved,
      limit: this._limit,
      segments: this.segments.length,
      bytesInUse: inUse,
      peakBytesInUse: this.peak,
      bytesFree: this._limit - inUse,
      largestFreeBlock: Math.max(largest, this._limit - reserved),
      fragmentation: free === 0 ? 0 : 1 - largest / free,
      liveBlocks: sum((s) => s.liveBlocks),
      freeBlocks: sum((s) => s.freeBlocks),
      allocations: sum((s) => s.allocations),
    };
  }
}
