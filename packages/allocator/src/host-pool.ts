// A host memory pool: tensors on the CPU come and go by the dozen per forward pass, and a fresh
// ArrayBuffer costs a zero-filled allocation each time. The pool keeps freed buffers in free lists
// bucketed by size and hands them out again, under an optional byte limit.
import { HostStorage, InvalidArgumentError, OutOfMemoryError, formatBytes } from '@bminf/core';
import { bucketSize } from './buckets.js';

export interface HostPoolOptions {
  /** Most bytes the pool may hold (in use plus cached for reuse). Default: unlimited. */
  limitBytes?: number;
  /**
   * Fill every buffer it hands out with 0xff bytes (NaN as float16 and float32, -1 as int32 and int8), so
   * that code reading memory it never wrote gives NaN or fails instead of quietly reading zeros or an
   * earlier tensor's values. Default: on where the environment has BMINF_POISON=1 (tests, debugging).
   */
  poison?: boolean;
}

export interface HostPoolStats {
  /** Bytes handed out and not yet returned (bucket sizes, not the sizes asked for). */
  bytesInUse: number;
  /** The highest bytesInUse has been. */
  peakBytesInUse: number;
  /** Bytes held in free lists, ready for reuse. */
  bytesCached: number;
  /** Calls to allocate() that succeeded. */
  allocations: number;
  /** Of those, how many were served from a free list. */
  reuses: number;
  limitBytes: number;
}

export class HostPool {
  readonly limitBytes: number;
  readonly poison: boolean;
  private readonly free = new Map<number, ArrayBuffer[]>();
  private inUse = 0;
  private peak = 0;
  private cached = 0;
  private allocations = 0;
  private reuses = 0;
  private disposed = false;

  constructor(options: HostPoolOptions = {}) {
    const limit = options.limitBytes ?? Number.POSITIVE_INFINITY;
    if (!(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0))) {
      throw new InvalidArgumentError(`HostPool: limitBytes must be a non-negative integer but is ${String(limit)}.`);
    }
    this.limitBytes = limit;
    this.poison = options.poison ?? process.env.BMINF_POISON === '1';
  }

  /**
   * A storage of at least `bytes` bytes (its byteLength is exactly `bytes`). Its contents are
   * undefined: a reused buffer holds what its last user wrote. dispose() returns it to the pool.
   */
  allocate(bytes: number): HostStorage {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new InvalidArgumentError(`HostPool.allocate: the size must be a non-negative integer number of bytes but is ${String(bytes)}.`);
    }
    const size = bucketSize(bytes);
    let buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.cached -= size;
      this.reuses++;
    } else {
      if (this.inUse + this.cached + size > this.limitBytes) this.trim();
      if (this.inUse + size > this.limitBytes) {
        throw new OutOfMemoryError(
          `the host pool (limit ${formatBytes(this.limitBytes)})`,
          bytes,
          this.limitBytes - this.inUse,
          'Dispose tensors that are no longer needed, or raise the host memory limit.',
        );
      }
      buffer = new ArrayBuffer(size);
    }
    if (this.poison) new Uint8Array(buffer, 0, bytes).fill(0xff);
    this.allocations++;
    this.inUse += size;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new HostStorage(buffer, 0, bytes, (s) => this.release(s.buffer));
  }

  private release(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    this.inUse -= size;
    if (this.disposed) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.cached += size;
  }

  /** Drops every cached buffer (the garbage collector frees them). */
  trim(): void {
    this.free.clear();
    this.cached = 0;
  }

  get stats(): HostPoolStats {
    return {
      bytesInUse: this.inUse,
      peakBytesInUse: this.peak,
      bytesCached: this.cached,
      allocations: this.allocations,
      reuses: this.reuses,
      limitBytes: this.limitBytes,
    };
  }

  /** Resets the peak to the current use (to measure one phase of a run). */
  resetPeak(): void {
    this.peak = this.inUse;
  }

  /** Drops the cache; storages still out stay valid but are not cached when they come back. */
  dispose(): void {
    this.disposed = true;
    this.trim();
  }
}
