export { HostPool, type HostPoolOptions, type HostPoolStats } from './host-pool.js';
export { bucketSize, MIN_BUCKET } from './buckets.js';
export { DevicePool, type DeviceBlock, type DevicePoolOptions, type DevicePoolStats } from './device-pool.js';
export { GrowingDevicePool, type GrowingPoolOptions, type GrowingPoolStats, type SegmentBlock } from './growing-pool.js';
