// Device memory taken as it is needed (BMInf's users asked for it, its issue #43), instead of one
// reservation of nearly all free memory at start: the pool holds segments, each one reservation from
// the driver carved by a DevicePool, and reserves another only when no segment has room, up to a
// limit. As PyTorch's caching allocator does it: a request of more than half a chunk gets a segment of
// its own size (rounded to 2 MiB), so that large weights leave no tails; smaller ones share segments of
// `chunk` bytes. Empty segments are kept for reuse, and given back to the driver only when a request
// would otherwise pass the limit (or the driver is out of memory): a CUDA graph holds its addresses in
// a live block (its step's arena), never in an empty segment.
import { InvalidArgumentError, OutOfMemoryError, formatBytes } from '@bminf/core';
import { type DeviceBlock, DevicePool, type DevicePoolStats } from './device-pool.js';

export interface GrowingPoolOptions<R> {
  /** The most bytes all segments together may hold. */
  limit: number;
  /** Reserves `bytes` of device memory from the driver (throws when it cannot). */
  reserve: (bytes: number) => R;
  /** The segment small requests share, in bytes. Default 32 MiB. */
  chunk?: number;
  /** Gives a segment back to the driver (after the work queued on it). Without it, segments stay. */
  release?: (region: R) => void;
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

/** A segment: one reservation and its bookkeeping. */
export interface Segment<R> {
  readonly region: R;
  readonly pool: DevicePool;
}

/** A block of one segment. */
export interface SegmentBlock<R> {
  readonly region: R;
  readonly segment: Segment<R>;
  readonly block: DeviceBlock;
}

export interface GrowingPoolStats extends DevicePoolStats {
  /** Bytes reserved from the driver (the sum of the segments). */
  reserved: number;
  /** The most bytes the pool may reserve. */
  limit: number;
  segments: number;
}

export class GrowingDevicePool<R> {
  readonly chunk: number;
  readonly alignment: number;
  readonly name: string;
  private _limit: number;
  private readonly reserveFn: (bytes: number) => R;
  private readonly releaseFn: ((region: R) => void) | undefined;
  private readonly doubling: boolean;
  private segments: Segment<R>[] = [];
  private inUse = 0;
  private peak = 0;

  constructor(options: GrowingPoolOptions<R>) {
    this.alignment = options.alignment ?? 256;
    this.chunk = options.chunk ?? 32 * 2 ** 20;
    this.name = options.name ?? 'the device';
    this.reserveFn = options.reserve;
    this.releaseFn = options.release;
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
    if (bytes < this.reserved) this.releaseEmpty();
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
    const g = this.bestFit(size) ?? this.grow(size, bytes);
    const block = g.pool.allocate(bytes);
    this.inUse += block.size;
    this.peak = Math.max(this.peak, this.inUse);
    return { region: g.region, segment: g, block };
  }

  /** The segment whose largest free block is the smallest that holds `size` bytes. */
  private bestFit(size: number): Segment<R> | null {
    let best: Segment<R> | null = null;
    let bestFree = Infinity;
    for (const g of this.segments) {
      const free = g.pool.largestFree();
      if (free >= size && free < bestFree) {
        best = g;
        bestFree = free;
      }
    }
    return best;
  }

  free(b: SegmentBlock<R>): void {
    if (!this.segments.includes(b.segment) || b.segment.region !== b.region) {
      throw new InvalidArgumentError('GrowingDevicePool.free: the block is not from this pool.');
    }
    b.segment.pool.free(b.block);
    this.inUse -= b.block.size;
  }

  /** Bytes a new segment for a `size`-byte request takes. */
  private segmentBytes(size: number): number {
    const MiB2 = 2 * 2 ** 20;
    if (size > this.chunk / 2) return Math.ceil(size / MiB2) * MiB2;
    return Math.max(this.chunk, this.doubling ? this.reserved : 0);
  }

  /** Reserves a segment of `bytes` now (a step arena sized from its measured peak). */
  prereserve(bytes: number): void {
    const room = this._limit - this.reserved;
    const size = Math.max(this.alignment, Math.ceil(bytes / this.alignment) * this.alignment);
    if (size > room) return; // grow() will say what is wrong, if the memory is needed at all
    this.segments.push({ region: this.reserveFn(size), pool: new DevicePool(size, { alignment: this.alignment, name: this.name }) });
  }

  /** Starts counting the peak from now; the bytes in use now. */
  resetPeak(): number {
    this.peak = this.inUse;
    return this.inUse;
  }

  /** Gives the empty segments back to the driver; the bytes released. */
  releaseEmpty(): number {
    if (!this.releaseFn) return 0;
    let released = 0;
    const keep: Segment<R>[] = [];
    for (const g of this.segments) {
      if (g.pool.stats().liveBlocks === 0) {
        this.releaseFn(g.region);
        released += g.pool.capacity;
      } else keep.push(g);
    }
    this.segments = keep;
    return released;
  }

  /** Reserves a segment for `size` bytes, giving empty segments back first where the limit requires it. */
  private grow(size: number, requested: number): Segment<R> {
    let bytes = this.segmentBytes(size);
    if (bytes > this._limit - this.reserved && this.releaseEmpty() > 0) {
      const again = this.bestFit(size);
      if (again) return again;
    }
    const room = this._limit - this.reserved;
    // Near the limit a segment is cut to the room left (but always holds the request).
    bytes = Math.min(bytes, room - (room % this.alignment));
    if (size > bytes) {
      const largest = Math.max(0, ...this.segments.map((g) => g.pool.largestFree()));
      throw new OutOfMemoryError(
        `${this.name} (limit ${formatBytes(this._limit)}, ${formatBytes(this.reserved)} reserved, ${formatBytes(this.inUse)} in use)`,
        requested,
        Math.max(largest, room),
        `The largest free block is ${formatBytes(largest)} and ${formatBytes(Math.max(0, room))} more may be reserved. ` +
          'Use a smaller model, batch or context, or raise the memory limit.',
      );
    }
    let region: R;
    try {
      region = this.reserveFn(bytes);
    } catch (e) {
      // The driver is out of memory (another process, or our own empty segments): give those back, once.
      if (this.releaseEmpty() === 0) throw e;
      region = this.reserveFn(bytes);
    }
    const g: Segment<R> = { region, pool: new DevicePool(bytes, { alignment: this.alignment, name: this.name }) };
    this.segments.push(g);
    return g;
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
