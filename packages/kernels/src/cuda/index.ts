// The CUDA backend's entry points: availability and device facts (for `bminf info` and `--device auto`),
// and the backend itself.
import { BackendUnavailableError } from '@bminf/core';
import { loadNativeCuda } from '@bminf/cuda-binding';
import { CudaBackend, type CudaBackendOptions } from './backend.js';
import { cudaAvailability, cudaInfo } from './info.js';

export { cudaAvailability, cudaInfo, formatCudaInfo, type CudaAvailability, type CudaInfo } from './info.js';
export { CudaBackend, type CudaBackendOptions } from './backend.js';
export { kernelSourceDir, cacheDir as kernelCacheDir } from './compiler.js';
export {
  ATTEND_SPLIT_MAX_PAIRS,
  DEFAULT_ROUTE_POLICY,
  attendCacheSplits,
  IGEMM_TIMED_CANDIDATES,
  gemvLinearConfigs,
  gemvRows,
  linearMmaFits,
  linearMmaTiles,
  linearGemvSplit,
  linearMmaShared,
  LINEAR_MMA_WARPS,
  igemmRoute,
  linearCall,
  linearRoute,
  type GemvLinearConfig,
  type IgemmCall,
  type IgemmRoute,
  type LinearCall,
  type LinearEpilogue,
  type LinearPlan,
  type LinearRoute,
  type RoutePolicy,
} from './linear-route.js';
export { ATTENTION_HEAD_DIMS, attentionRoute, type AttentionOperand, type AttentionRouteInput } from './attention-route.js';
export { ROW_VEC_MAX_COLS, rowVecLaunch } from './row-vec.js';
export { Tuner, type IgemmKernelChoice } from './tuner.js';
export type { Sm90Tile } from './sm90-gemm.js';

let shared: CudaBackend | null = null;

/**
 * The CUDA backend on device 0. Without options it returns one shared instance (made on first use,
 * and again after it was disposed), since each instance reserves most of the free device memory; with
 * options it makes a new one. Throws BackendUnavailableError with the reason when CUDA is unusable.
 */
export function createCudaBackend(options?: CudaBackendOptions): CudaBackend {
  const avail = cudaAvailability();
  if (!avail.available) {
    throw new BackendUnavailableError(`CUDA is unavailable: ${avail.reason}.`, { hint: 'Use --device cpu.' });
  }
  const native = loadNativeCuda();
  if (!native) throw new BackendUnavailableError('CUDA is unavailable: the bminf addon could not be loaded.', { hint: 'Use --device cpu.' });
  if (options) return new CudaBackend(native, cudaInfo(), options);
  if (!shared || shared.disposed) shared = new CudaBackend(native, cudaInfo());
  return shared;
}
