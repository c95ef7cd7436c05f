import type { Device } from './device.js';
import { Device as DeviceClass } from './device.js';

/** The memory under one or more tensors. It is freed once, by `dispose()`. */
export interface Storage {
  readonly device: Device;
  readonly byteLength: number;
  readonly disposed: boolean;
  dispose(): void;
}

/** Host memory: a region of an ArrayBuffer (usually from the host pool of @bminf/allocator). */
export class HostStorage implements Storage {
  readonly device = DeviceClass.cpu;
  private _disposed = false;
  constructor(
    readonly buffer: ArrayBuffer,
    readonly byteOffset = 0,
    readonly byteLength = buffer.byteLength - byteOffset,
    private readonly onDispose?: (storage: HostStorage) => void,
  ) {}
  get disposed(): boolean {
    return this._disposed;
  }
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.onDispose?.(this);
  }
}
