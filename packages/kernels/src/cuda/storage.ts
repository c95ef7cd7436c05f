// Device memory under CUDA tensors: a block of the backend's device pool. Freeing it returns the block
// at once; that is safe with work still queued, because all work runs on one stream in order (see
// packages/allocator/src/device-pool.ts).
import { Device, type Storage } from '@bminf/core';
import type { DeviceBlock, DevicePool } from '@bminf/allocator';
import type { DeviceRegion, DeviceSpan } from '@bminf/cuda-binding';

export class CudaStorage implements Storage {
  private _disposed = false;
  constructor(
    readonly device: Device,
    readonly region: DeviceRegion,
    private readonly pool: DevicePool,
    readonly block: DeviceBlock,
    readonly byteLength: number,
  ) {}
  get disposed(): boolean {
    return this._disposed;
  }
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.pool.free(this.block);
  }
  /** Bytes [byteOffset, byteOffset + byteLength) of this storage as a span of the reservation. */
  span(byteOffset: number, byteLength: number): DeviceSpan {
    return { region: this.region, byteOffset: this.block.offset + byteOffset, byteLength };
  }
}
