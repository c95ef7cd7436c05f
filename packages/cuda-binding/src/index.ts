// The addon's CUDA side, typed: the loader, the `NativeCuda` interface (every function the addon's
// native/src/cuda/*.cc register, with its real arguments and results), device spans, and the mapping of
// the addon's errors to @bminf/core's. @bminf/cublaslt and @bminf/kernels call the GPU through it.
export { loadNativeCuda, nativeLoadError } from './load.js';
export { mapNativeError } from './errors.js';
export type { DeviceSpan } from './device-span.js';
export {
  NATIVE_CUDA_BENCH_FUNCTIONS,
  NATIVE_CUDA_FUNCTIONS,
  type CompileResult,
  type CudaEvent,
  type CudaInfo,
  type DeviceRegion,
  type Dim3,
  type HostBytes,
  type IgemmPath,
  type KernelFunction,
  type KernelModule,
  type LaunchArg,
  type NativeCuda,
  type NativeCudaBench,
  type PinnedHostRegion,
  type StepGraphHandle,
  type TensorMap,
} from './native-cuda.js';
