// The slice of the CUDA driver, cublasLt and NVRTC APIs that bminf uses, declared here so that the
// addon builds with no CUDA toolkit: the libraries are dlopen()ed at run time (loader.cc). Values are
// copied from cuda.h 13.0, cublasLt.h / cublas_api.h 13, library_types.h and nvrtc.h; they are part of
// those libraries' stable ABI. Versioned driver entry points are looked up by their versioned names
// (cuMemAlloc_v2 ...), which is what the macros in cuda.h expand to.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace bminf::cuda {

// ---- driver ---------------------------------------------------------------------------------------
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphExec = struct CUgraphExec_st*;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DEFAULT = 0;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr unsigned CU_MEMHOSTALLOC_PORTABLE = 1;
constexpr int CU_STREAM_CAPTURE_MODE_RELAXED = 2;
constexpr int CU_LAUNCH_ATTRIBUTE_COOPERATIVE = 2;
constexpr int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

// cuda.h's launch attribute (an id padded to 8 bytes, then a 64-byte value union) and launch config.
struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char pad[64];
    int cooperative;
    int programmaticStreamSerializationAllowed;
  } value;
};
static_assert(sizeof(CUlaunchAttribute) == 72, "CUlaunchAttribute must match cuda.h");
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute* attrs;
  unsigned numAttrs;
};

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);                  // _v2
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);                  // _v2
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuMemGetInfo)(size_t*, size_t*);                       // _v2
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);                     // _v2
  CUresult (*cuMemFree)(CUdeviceptr);                               // _v2
  CUresult (*cuMemHostAlloc)(void**, size_t, unsigned);
  CUresult (*cuMemFreeHost)(void*);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);  // _v2
  CUresult (*cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);        // _v2
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);  // _v2
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventDestroy)(CUevent);                              // _v2
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);         // _v2 where present
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
  // Optional (nullptr where the driver lacks them): CUDA graphs, for replaying a captured cublasLt call.
  CUresult (*cuStreamBeginCapture)(CUstream, int) = nullptr;  // _v2
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph*) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec*, CUgraph, unsigned long long) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph) = nullptr;
  // Optional (CUDA 12+ drivers): launches with attributes (programmatic dependent launch).
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig*, CUfunction, void**, void**) = nullptr;
  // Optional (CUDA 12+ drivers): TMA tensor maps, for the Hopper GEMM kernel.
  CUresult (*cuTensorMapEncodeTiled)(struct CUtensorMap*, int dataType, unsigned rank, void* address, const unsigned long long* dims,
                                     const unsigned long long* strides, const unsigned* box, const unsigned* elementStrides, int interleave,
                                     int swizzle, int l2Promotion, int oobFill) = nullptr;
};

// cuda.h's CUtensorMap (128 opaque bytes, 64-byte aligned) and the enum values tensorMap2d uses.
struct alignas(64) CUtensorMap {
  unsigned long long opaque[16];
};
constexpr int CU_TENSOR_MAP_DATA_TYPE_UINT8 = 0;
constexpr int CU_TENSOR_MAP_INTERLEAVE_NONE = 0;
constexpr int CU_TENSOR_MAP_SWIZZLE_128B = 3;
constexpr int CU_TENSOR_MAP_L2_PROMOTION_L2_128B = 2;
constexpr int CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0;

// ---- cublasLt -------------------------------------------------------------------------------------
using cublasStatus_t = int;
using cublasLtHandle_t = struct cublasLtContext*;
using cublasLtMatmulDesc_t = void*;
using cublasLtMatrixLayout_t = void*;
using cublasLtMatmulPreference_t = void*;
using cublasLtMatrixTransformDesc_t = void*;
struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};
constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
constexpr cublasStatus_t CUBLAS_STATUS_EXECUTION_FAILED = 13;  // cublas_api.h
// cudaDataType
constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_8I = 3, CUDA_R_32I = 10;
// cublasComputeType_t
constexpr int CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32I = 72;
// cublasOperation_t
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
// cublasLtOrder_t
constexpr int CUBLASLT_ORDER_COL = 0, CUBLASLT_ORDER_ROW = 1, CUBLASLT_ORDER_COL32 = 2,
              CUBLASLT_ORDER_COL4_4R2_8C = 3, CUBLASLT_ORDER_COL32_2R_4R4 = 4;
// cublasLtMatrixLayoutAttribute_t
constexpr int CUBLASLT_MATRIX_LAYOUT_ORDER = 1, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
              CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6;
// cublasLtMatmulDescAttributes_t
constexpr int CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4;
// cublasLtMatmulPreferenceAttributes_t
constexpr int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;
// cublasLtMatrixTransformDescAttributes_t
constexpr int CUBLASLT_MATRIX_TRANSFORM_DESC_TRANSA = 2;
// cublasLtMatmulAlgoCapAttributes_t (what an algorithm id supports; igemm's search for skinny shapes)
constexpr int CUBLASLT_ALGO_CAP_SPLITK_SUPPORT = 0, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK = 1,
              CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT = 2, CUBLASLT_ALGO_CAP_TILE_IDS = 6, CUBLASLT_ALGO_CAP_STAGES_IDS = 13,
              CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES = 16, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES = 17,
              CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES = 18, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES = 19;
// cublasLtMatmulAlgoConfigAttributes_t
constexpr int CUBLASLT_ALGO_CONFIG_ID = 0, CUBLASLT_ALGO_CONFIG_TILE_ID = 1, CUBLASLT_ALGO_CONFIG_SPLITK_NUM = 2,
              CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME = 3, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING = 4,
              CUBLASLT_ALGO_CONFIG_STAGES_ID = 6;
// cublasLtReductionScheme_t: NONE 0, INPLACE 1, COMPUTE_TYPE 2, OUTPUT_TYPE 4 (bits of the cap's mask)
constexpr uint32_t CUBLASLT_REDUCTION_SCHEME_NONE = 0;

struct Lt {
  cublasStatus_t (*cublasLtCreate)(cublasLtHandle_t*);
  cublasStatus_t (*cublasLtDestroy)(cublasLtHandle_t);
  size_t (*cublasLtGetVersion)();
  const char* (*cublasLtGetStatusName)(cublasStatus_t);  // may be null on old versions
  cublasStatus_t (*cublasLtMatmulDescCreate)(cublasLtMatmulDesc_t*, int computeType, int scaleType);
  cublasStatus_t (*cublasLtMatmulDescDestroy)(cublasLtMatmulDesc_t);
  cublasStatus_t (*cublasLtMatmulDescSetAttribute)(cublasLtMatmulDesc_t, int, const void*, size_t);
  cublasStatus_t (*cublasLtMatrixLayoutCreate)(cublasLtMatrixLayout_t*, int type, uint64_t rows, uint64_t cols, int64_t ld);
  cublasStatus_t (*cublasLtMatrixLayoutDestroy)(cublasLtMatrixLayout_t);
  cublasStatus_t (*cublasLtMatrixLayoutSetAttribute)(cublasLtMatrixLayout_t, int, const void*, size_t);
  cublasStatus_t (*cublasLtMatmulPreferenceCreate)(cublasLtMatmulPreference_t*);
  cublasStatus_t (*cublasLtMatmulPreferenceDestroy)(cublasLtMatmulPreference_t);
  cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute)(cublasLtMatmulPreference_t, int, const void*, size_t);
  cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                                   cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                   cublasLtMatmulPreference_t, int, cublasLtMatmulHeuristicResult_t*, int*);
  cublasStatus_t (*cublasLtMatmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* A,
                                   cublasLtMatrixLayout_t, const void* B, cublasLtMatrixLayout_t, const void* beta,
                                   const void* C, cublasLtMatrixLayout_t, void* D, cublasLtMatrixLayout_t,
                                   const cublasLtMatmulAlgo_t*, void* workspace, size_t workspaceSize, CUstream);
  cublasStatus_t (*cublasLtMatrixTransformDescCreate)(cublasLtMatrixTransformDesc_t*, int scaleType);
  cublasStatus_t (*cublasLtMatrixTransformDescDestroy)(cublasLtMatrixTransformDesc_t);
  cublasStatus_t (*cublasLtMatrixTransformDescSetAttribute)(cublasLtMatrixTransformDesc_t, int, const void*, size_t);
  cublasStatus_t (*cublasLtMatrixTransform)(cublasLtHandle_t, cublasLtMatrixTransformDesc_t, const void* alpha,
                                            const void* A, cublasLtMatrixLayout_t, const void* beta, const void* B,
                                            cublasLtMatrixLayout_t, void* C, cublasLtMatrixLayout_t, CUstream);
  // Optional (nullptr where missing): enumerating algorithms beyond the heuristic's few candidates.
  cublasStatus_t (*cublasLtMatmulAlgoGetIds)(cublasLtHandle_t, int computeType, int scaleType, int Atype, int Btype, int Ctype,
                                             int Dtype, int requestedAlgoCount, int algoIdsArray[], int* returnAlgoCount) = nullptr;
  cublasStatus_t (*cublasLtMatmulAlgoInit)(cublasLtHandle_t, int computeType, int scaleType, int Atype, int Btype, int Ctype,
                                           int Dtype, int algoId, cublasLtMatmulAlgo_t*) = nullptr;
  cublasStatus_t (*cublasLtMatmulAlgoCheck)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                            cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*,
                                            cublasLtMatmulHeuristicResult_t*) = nullptr;
  cublasStatus_t (*cublasLtMatmulAlgoCapGetAttribute)(const cublasLtMatmulAlgo_t*, int attr, void* buf, size_t size,
                                                      size_t* sizeWritten) = nullptr;
  cublasStatus_t (*cublasLtMatmulAlgoConfigSetAttribute)(cublasLtMatmulAlgo_t*, int attr, const void* buf, size_t size) = nullptr;
  cublasStatus_t (*cublasLtMatmulAlgoConfigGetAttribute)(const cublasLtMatmulAlgo_t*, int attr, void* buf, size_t size,
                                                         size_t* sizeWritten) = nullptr;
};

// ---- NVRTC ----------------------------------------------------------------------------------------
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;
constexpr nvrtcResult NVRTC_SUCCESS = 0;

struct Nvrtc {
  const char* (*nvrtcGetErrorString)(nvrtcResult);
  nvrtcResult (*nvrtcVersion)(int*, int*);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char* src, const char* name, int numHeaders,
                                    const char* const* headers, const char* const* includeNames);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
};

// ---- the loaded state -----------------------------------------------------------------------------
struct State {
  bool tried = false;     // Init() ran
  bool available = false; // driver, device, context and stream are usable
  std::string reason;     // why not, when not
  int errorCode = 0;      // the CUresult of the failing call, if one failed
  std::string cudaPath, ltPath, nvrtcPath;
  std::string ltError, nvrtcError;  // why cublasLt / NVRTC could not be loaded
  bool hasLt = false, hasNvrtc = false;
  Driver drv{};
  Lt lt{};
  Nvrtc rtc{};
  CUdevice device = 0;
  CUcontext ctx = nullptr;
  CUstream stream = nullptr;
  // The stream that copies streamed layers' weights in from pinned host memory (streaming.cc), made on
  // first use; ordered against `stream` by events only.
  CUstream copyStream = nullptr;
  // A planned step is being captured into a CUDA graph (step_graph.cc): launches go straight into the
  // capture, not through the per-launch and per-igemm graphs.
  bool capturing = false;
  int ccMajor = 0, ccMinor = 0, smCount = 0, driverVersion = 0;
  std::string deviceName;
  size_t totalMem = 0;
};

// Loads the libraries and sets up device 0 once; never throws. The state says what worked.
State& Init();
// "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory" for a driver result.
std::string DriverError(CUresult r);

}  // namespace bminf::cuda
