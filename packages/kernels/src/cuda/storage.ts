// Device memory under CUDA tensors: bytes [base, base + byteLength) of one device region (a segment of
// the backend's pool, or of a captured step's arena inside it). Freeing it returns the block at once;
// that is safe with work still queued, because all work runs on one stream in order (see
// packages/allocator/src/device-pool.ts). Streamed weights are copied on a second stream into slots
// that live as long as their model, ordered by events (packages/models/src/streaming).
import { Device, type Storage } from '@bminf/core';
import type { DeviceRegion, DeviceSpan } from '@bminf/cuda-binding';

export class CudaStorage implements Storage {
  private _disposed = false;
  constructor(
    readonly device: Device,
    /** The backend whose memory this is (ops take only their own backend's storages). */
    readonly owner: object,
    readonly region: DeviceRegion,
    /** Where the storage starts in its region, in bytes. */
    readonly base: number,
    readonly byteLength: number,
    private readonly release: () => void,
  ) {}
  get disposed(): boolean {
    return this._disposed;
  }
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.release();
  }
  /** Bytes [byteOffset, byteOffset + byteLength) of this storage as a span of its region. */
  span(byteOffset: number, byteLength: number): DeviceSpan {
    return { region: this.region, byteOffset: this.base + byteOffset, byteLength };
  }
}
