// The GPU memory pool, as BMInf did it: device memory is reserved once (one cuMemAlloc of the whole
// budget, by the CUDA backend) and carved here. This file is only the bookkeeping over byte offsets
// inside that reservation, so that it can be tested without a GPU.
//
// Policy: best fit (the smallest free block that holds the request; ties go to the lowest offset),
// splitting off the rest, and coalescing a freed block with free neighbours on both sides. Every
// block starts at a multiple of `alignment` (256 bytes by default: what cuMemAlloc guarantees and
// what vectorised kernels and cublasLt want), and sizes are rounded up to it.
//
// Frees are ordered with the stream that used the block: the CUDA backend queues every kernel, copy
// and GEMM on one stream, in program order. A block freed here while work that reads it is still
// queued can be handed out at once, because whatever the next owner queues runs after that work on
// the same stream. (A second stream would need an event recorded at free time and waited on before
// reuse; bminf uses one.) Releasing the reservation itself synchronizes first.
import { InvalidArgumentError, OutOfMemoryError, formatBytes } from '@bminf/core';

export interface DevicePoolOptions {
  /** Block alignment in bytes, a power of two. Default 256. */
  alignment?: number;
  /** How the pool is named in errors ("cuda:0"). */
  name?: string;
}

/** A block handed out by the pool: bytes [offset, offset + size) of the reservation. */
export interface DeviceBlock {
  readonly offset: number;
  /** The size reserved for it (the request rounded up to the alignment). */
  readonly size: number;
  /** The size that was asked for. */
  readonly requested: number;
}

export interface DevicePoolStats {
  capacity: number;
  /** Bytes in live blocks (rounded sizes). */
  bytesInUse: number;
  /** The highest bytesInUse has been. */
  peakBytesInUse: number;
  /** capacity - bytesInUse. */
  bytesFree: number;
  /** The largest single allocation that would succeed now. */
  largestFreeBlock: number;
  /** 1 - largestFreeBlock / bytesFree: 0 when the free space is one block, near 1 when it is crumbs. */
  fragmentation: number;
  liveBlocks: number;
  freeBlocks: number;
  allocations: number;
}

interface FreeRange {
  offset: number;
  size: number;
}

export class DevicePool {
  readonly capacity: number;
  readonly alignment: number;
  readonly name: string;
  // Free ranges sorted by offset, never adjacent (adjacent ones are merged).
  private readonly freeList: FreeRange[] = [];
  private readonly live = new Map<number, DeviceBlock>();
  private inUse = 0;
  private peak = 0;
  private allocations = 0;

  constructor(capacity: number, options: DevicePoolOptions = {}) {
    const alignment = options.alignment ?? 256;
    if (!Number.isSafeInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new InvalidArgumentError(`DevicePool: alignment must be a power of two but is ${alignment}.`);
    }
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new InvalidArgumentError(`DevicePool: capacity must be a non-negative integer number of bytes but is ${capacity}.`);
    }
    this.alignment = alignment;
    // Only whole aligned units can be handed out.
    this.capacity = capacity - (capacity % alignment);
    this.name = options.name ?? 'the device';
    if (this.capacity > 0) this.freeList.push({ offset: 0, size: this.capacity });
  }

  /** Reserves a block of at least `bytes` bytes. Throws OutOfMemoryError when no free block fits. */
  allocate(bytes: number): DeviceBlock {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new InvalidArgumentError(`DevicePool.allocate: bytes must be a non-negative integer but is ${bytes}.`);
    }
    // Zero-byte requests still get a unit, so that every live block has its own offset.
    const size = Math.max(this.alignment, Math.ceil(bytes / this.alignment) * this.alignment);
    let best = -1;
    for (let i = 0; i < this.freeList.length; i++) {
      const f = this.freeList[i];
      if (f.size >= size && (best < 0 || f.size < this.freeList[best].size)) {
        best = i;
        if (f.size === size) break;
      }
    }
    if (best < 0) {
      const largest = this.largestFree();
      throw new OutOfMemoryError(
        `${this.name} (pool of ${formatBytes(this.capacity)}, ${formatBytes(this.inUse)} in use)`,
        bytes,
        largest,
        `The largest free block is ${formatBytes(largest)} (${formatBytes(this.capacity - this.inUse)} free in all). ` +
          'Use a smaller model, batch or context, or raise the memory limit.',
      );
    }
    const f = this.freeList[best];
    const block: DeviceBlock = Object.freeze({ offset: f.offset, size, requested: bytes });
    if (f.size === size) this.freeList.splice(best, 1);
    else this.freeList[best] = { offset: f.offset + size, size: f.size - size };
    this.live.set(block.offset, block);
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    this.allocations++;
    return block;
  }

  /** Returns a block; freeing one twice, or one this pool did not hand out, is an error. */
  free(block: DeviceBlock): void {
    if (this.live.get(block.offset) !== block) {
      throw new InvalidArgumentError(`DevicePool.free: the block at offset ${block.offset} is not live in this pool (freed twice?).`);
    }
    this.live.delete(block.offset);
    this.inUse -= block.size;
    // Insert by offset (binary search), then merge with the neighbours it touches.
    let lo = 0;
    let hi = this.freeList.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeList[mid].offset < block.offset) lo = mid + 1;
      else hi = mid;
    }
    let range: FreeRange = { offset: block.offset, size: block.size };
    const prev = this.freeList[lo - 1];
    const next = this.freeList[lo];
    if (prev && prev.offset + prev.size === range.offset) {
      range = { offset: prev.offset, size: prev.size + range.size };
      this.freeList.splice(--lo, 1);
    }
    if (next && range.offset + range.size === next.offset) {
      range = { offset: range.offset, size: range.size + next.size };
      this.freeList.splice(lo, 1);
    }
    this.freeList.splice(lo, 0, range);
  }

  /** Whether a block is live (handed out and not freed). */
  isLive(block: DeviceBlock): boolean {
    return this.live.get(block.offset) === block;
  }

  /** The live blocks, by offset. */
  liveBlocks(): DeviceBlock[] {
    return [...this.live.values()].sort((a, b) => a.offset - b.offset);
  }

  /** The largest single allocation that would succeed now. */
  largestFree(): number {
    let m = 0;
    for (const f of this.freeList) m = Math.max(m, f.size);
    return m;
  }

  stats(): DevicePoolStats {
    const largest = this.largestFree();
    const free = this.capacity - this.inUse;
    return {
      capacity: this.capacity,
      bytesInUse: this.inUse,
      peakBytesInUse: this.peak,
      bytesFree: free,
      largestFreeBlock: largest,
      fragmentation: free === 0 ? 0 : 1 - largest / free,
      liveBlocks: this.live.size,
      freeBlocks: this.freeList.length,
      allocations: this.allocations,
    };
  }
}
