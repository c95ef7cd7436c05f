// What `bminf info` prints about CUDA: the GPU, the libraries and where they were loaded from, or
// exactly why the CUDA backend cannot be used here. Never throws.
import { type CudaInfo, loadNativeCuda, nativeLoadError } from '@bminf/cuda-binding';

/** What the addon's info() reports (defined with the binding, @bminf/cuda-binding). */
export type { CudaInfo };

export type CudaAvailability = Pick<CudaInfo, 'available' | 'reason'>;

let cached: CudaInfo | null = null;

export function cudaInfo(): CudaInfo {
  if (cached) return cached;
  const native = loadNativeCuda();
  if (!native) {
    const e = nativeLoadError() as Error | undefined;
    return { available: false, reason: `the bminf native addon could not be loaded: ${e?.message ?? String(e)}`, paths: {} };
  }
  // An addon built without the CUDA side (an older or a CPU-only build) has no info().
  if (typeof (native as Partial<typeof native>).info !== 'function') {
    return { available: false, reason: 'this build of the bminf addon has no CUDA support (rebuild it: cd native && pnpm build)', paths: {} };
  }
  cached = native.info();
  return cached;
}

export function cudaAvailability(): CudaAvailability {
  const i = cudaInfo();
  return i.available ? { available: true } : { available: false, reason: i.reason };
}

/** One line per fact, for `bminf info`. */
export function formatCudaInfo(i: CudaInfo = cudaInfo()): string {
  if (!i.available) return `CUDA: unavailable (${i.reason})`;
  const gib = (n?: number) => (n === undefined ? '?' : `${(n / 2 ** 30).toFixed(1)} GiB`);
  const drv = i.driverVersion ? `${Math.floor(i.driverVersion / 1000)}.${(i.driverVersion % 1000) / 10}` : '?';
  return [
    `CUDA: ${i.deviceName} (compute capability ${i.computeCapability?.join('.')}, ${i.multiprocessors} SMs, ${gib(i.totalMemory)}, ${gib(i.freeMemory)} free)`,
    `  driver API ${drv}: ${i.paths.cuda}`,
    `  cublasLt ${i.cublasLtVersion}: ${i.paths.cublasLt}`,
    `  NVRTC ${i.nvrtcVersion?.join('.')}: ${i.paths.nvrtc}`,
  ].join('\n');
}
