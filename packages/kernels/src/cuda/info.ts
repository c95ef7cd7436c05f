// What `bminf info` prints about CUDA: the GPU, the libraries and where they were loaded from, or
// exactly why the CUDA backend cannot be used here. Never throws.
import { loadNativeCuda, nativeLoadError } from '@bminf/cublaslt';

export interface CudaInfo {
  available: boolean;
  /** Why CUDA cannot be used, when it cannot. */
  reason?: string;
  /** The CUresult of the failing driver call, when one failed. */
  errorCode?: number;
  deviceName?: string;
  computeCapability?: [number, number];
  multiprocessors?: number;
  totalMemory?: number;
  freeMemory?: number;
  /** e.g. 13000 for CUDA 13.0. */
  driverVersion?: number;
  cublasLtVersion?: number;
  nvrtcVersion?: [number, number];
  paths: { cuda?: string; cublasLt?: string; nvrtc?: string };
  cublasLtError?: string;
  nvrtcError?: string;
}

export type CudaAvailability = Pick<CudaInfo, 'available' | 'reason'>;

let cached: CudaInfo | null = null;

export function cudaInfo(): CudaInfo {
  if (cached) return cached;
  const native = loadNativeCuda();
  if (!native) {
    const e = nativeLoadError() as Error | undefined;
    return { available: false, reason: `the bminf native addon could not be loaded: ${e?.message ?? String(e)}`, paths: {} };
  }
  if (typeof native.info !== 'function') {
    return { available: false, reason: 'this build of the bminf addon has no CUDA support (rebuild it: cd native && pnpm build)', paths: {} };
  }
  cached = native.info() as CudaInfo;
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
