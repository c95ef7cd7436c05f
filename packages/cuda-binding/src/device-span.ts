import type { DeviceRegion } from './native-cuda.js';

/** Bytes [byteOffset, byteOffset + byteLength) of a device region made by the addon. */
export interface DeviceSpan {
  readonly region: DeviceRegion;
  readonly byteOffset: number;
  readonly byteLength: number;
}
