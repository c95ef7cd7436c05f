import { CpuBackend, type CpuBackendOptions } from './cpu-backend.js';

export { argmaxFloat32 } from './argmax.js';
export { sampleFloat32, sampleRowsFloat32, samplingDistributionFloat32, type NativeSampleParams, type NativeSampleRow } from './sample.js';
export { CPU_ISAS, CpuBackend, type CpuBackendOptions } from './cpu-backend.js';
export { type CpuIsa, type CpuKernelInfo, nativeCpu, type NativeCpu } from './native.js';

/** A new CPU backend with its own host pool. */
export function createCpuBackend(options?: CpuBackendOptions): CpuBackend {
  return new CpuBackend(options);
}

let shared: CpuBackend | null = null;

/** The process-wide default CPU backend (created on first use, and again after it was disposed). */
export function cpuBackend(): CpuBackend {
  if (!shared || shared.disposed) shared = new CpuBackend();
  return shared;
}
