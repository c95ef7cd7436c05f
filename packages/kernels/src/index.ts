export type { Backend } from '@bminf/core';
export { CpuBackend, type CpuBackendOptions, createCpuBackend, cpuBackend, nativeCpu, type NativeCpu } from './cpu/index.js';
export { getBackend } from './select.js';
export * as reference from './reference/index.js';
export * from './cuda/index.js';
