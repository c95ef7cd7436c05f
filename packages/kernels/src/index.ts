export type { Backend } from '@bminf/core';
export {
  argmaxFloat32,
  CPU_ISAS,
  CpuBackend,
  type CpuBackendOptions,
  type CpuIsa,
  type CpuKernelInfo,
  createCpuBackend,
  cpuBackend,
  nativeCpu,
  type NativeCpu,
  type NativeSampleParams,
  type NativeSampleRow,
  sampleFloat32,
  sampleRowsFloat32,
  samplingDistributionFloat32,
} from './cpu/index.js';
export { getBackend } from './select.js';
export * as reference from './reference/index.js';
export * from './cuda/index.js';
