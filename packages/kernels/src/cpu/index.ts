import { CpuBackend, type CpuBackendOptions } from './cpu-backend.js';

export { CpuBackend, type CpuBackendOptions } from './cpu-backend.js';
export { nativeCpu, type NativeCpu } from './native.js';

/** A new CPU backend with its own host pool. */
export function createCpuBackend(options?: CpuBackendOptions): CpuBackend {
  return new CpuBackend(options);
}

let shared: CpuBackend | null = null;

/** The process-wide default CPU backend (created on first use). */
export function cpuBackend(): CpuBackend {
  return (shared ??= new CpuBackend());
}
