export { HostPool, type HostPoolOptions, type HostPoolStats } from './host-pool.js';
export { bucketSize, MIN_BUCKET } from './buckets.js';
