// Finds and opens the CUDA driver, cublasLt and NVRTC at run time, and sets up device 0 (its primary
// context and the one stream every bminf op is queued on). Nothing here throws: what failed is kept in
// State so that `bminf info` can say exactly why CUDA is unavailable.
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/api.h"

namespace bminf::cuda {
namespace {

State g_state;

// Tries each name as given (the loader's search path) and under $CUDA_HOME/lib64 and
// /usr/local/cuda/lib64; returns the handle and the name that worked, or the last dlerror().
void* OpenFirst(const std::vector<std::string>& names, std::string* loaded, std::string* error) {
  std::vector<std::string> dirs = {""};
  if (const char* home = std::getenv("CUDA_HOME")) dirs.push_back(std::string(home) + "/lib64/");
  if (const char* home = std::getenv("CUDA_PATH")) dirs.push_back(std::string(home) + "/lib64/");
  dirs.push_back("/usr/local/cuda/lib64/");
  std::string last;
  for (const auto& name : names) {
    for (const auto& dir : dirs) {
      std::string path = dir + name;
      if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        *loaded = path;
        return h;
      }
      const char* e = dlerror();
      if (e) last = e;
    }
  }
  *error = "none of " + [&] {
    std::string s;
    for (size_t i = 0; i < names.size(); i++) s += (i ? ", " : "") + names[i];
    return s;
  }() + " could be loaded (last error: " + last + ")";
  return nullptr;
}

// Resolves each symbol into a function pointer; the first missing one is reported.
template <typename F>
bool Sym(void* lib, F* slot, const char* name, std::string* missing, const char* fallback = nullptr) {
  void* p = dlsym(lib, name);
  if (!p && fallback) p = dlsym(lib, fallback);
  if (!p) {
    if (missing->empty()) *missing = name;
    return false;
  }
  *slot = reinterpret_cast<F>(p);
  return true;
}

bool LoadDriver(State& s) {
  std::string err;
  void* lib = OpenFirst({"libcuda.so.1", "libcuda.so"}, &s.cudaPath, &err);
  if (!lib) {
    s.reason = "the CUDA driver is not installed: " + err;
    return false;
  }
  std::string miss;
  Driver& d = s.drv;
  Sym(lib, &d.cuInit, "cuInit", &miss);
  Sym(lib, &d.cuDriverGetVersion, "cuDriverGetVersion", &miss);
  Sym(lib, &d.cuGetErrorName, "cuGetErrorName", &miss);
  Sym(lib, &d.cuGetErrorString, "cuGetErrorString", &miss);
  Sym(lib, &d.cuDeviceGetCount, "cuDeviceGetCount", &miss);
  Sym(lib, &d.cuDeviceGet, "cuDeviceGet", &miss);
  Sym(lib, &d.cuDeviceGetName, "cuDeviceGetName", &miss);
  Sym(lib, &d.cuDeviceGetAttribute, "cuDeviceGetAttribute", &miss);
  Sym(lib, &d.cuDeviceTotalMem, "cuDeviceTotalMem_v2", &miss);
  Sym(lib, &d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", &miss);
  Sym(lib, &d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", &miss, "cuDevicePrimaryCtxRelease");
  Sym(lib, &d.cuCtxSetCurrent, "cuCtxSetCurrent", &miss);
  Sym(lib, &d.cuMemGetInfo, "cuMemGetInfo_v2", &miss);
  Sym(lib, &d.cuMemAlloc, "cuMemAlloc_v2", &miss);
  Sym(lib, &d.cuMemFree, "cuMemFree_v2", &miss);
  Sym(lib, &d.cuMemHostAlloc, "cuMemHostAlloc", &miss);
  Sym(lib, &d.cuMemFreeHost, "cuMemFreeHost", &miss);
  Sym(lib, &d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", &miss);
  Sym(lib, &d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", &miss);
  Sym(lib, &d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", &miss);
  Sym(lib, &d.cuMemsetD8Async, "cuMemsetD8Async", &miss);
  Sym(lib, &d.cuStreamCreate, "cuStreamCreate", &miss);
  Sym(lib, &d.cuStreamSynchronize, "cuStreamSynchronize", &miss);
  Sym(lib, &d.cuStreamWaitEvent, "cuStreamWaitEvent", &miss);
  Sym(lib, &d.cuEventCreate, "cuEventCreate", &miss);
  Sym(lib, &d.cuEventDestroy, "cuEventDestroy_v2", &miss, "cuEventDestroy");
  Sym(lib, &d.cuEventRecord, "cuEventRecord", &miss);
  Sym(lib, &d.cuEventSynchronize, "cuEventSynchronize", &miss);
  Sym(lib, &d.cuEventElapsedTime, "cuEventElapsedTime_v2", &miss, "cuEventElapsedTime");
  Sym(lib, &d.cuModuleLoadData, "cuModuleLoadData", &miss);
  Sym(lib, &d.cuModuleUnload, "cuModuleUnload", &miss);
  Sym(lib, &d.cuModuleGetFunction, "cuModuleGetFunction", &miss);
  Sym(lib, &d.cuFuncSetAttribute, "cuFuncSetAttribute", &miss);
  Sym(lib, &d.cuLaunchKernel, "cuLaunchKernel", &miss);
  {
    // Optional: a missing one leaves its slot null and igemm calls cublasLt directly.
    std::string optional;
    Sym(lib, &d.cuStreamBeginCapture, "cuStreamBeginCapture_v2", &optional);
    Sym(lib, &d.cuStreamEndCapture, "cuStreamEndCapture", &optional);
    Sym(lib, &d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", &optional);
    Sym(lib, &d.cuGraphLaunch, "cuGraphLaunch", &optional);
    Sym(lib, &d.cuGraphExecDestroy, "cuGraphExecDestroy", &optional);
    Sym(lib, &d.cuGraphDestroy, "cuGraphDestroy", &optional);
    if (!optional.empty()) d.cuStreamBeginCapture = nullptr;
  }
  {
    std::string optional;
    Sym(lib, &d.cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", &optional);
  }
  {
    std::string optional;
    Sym(lib, &d.cuLaunchKernelEx, "cuLaunchKernelEx", &optional);
  }
  if (!miss.empty()) {
    s.reason = "the CUDA driver at " + s.cudaPath + " lacks " + miss + " (the driver is too old; update it)";
    return false;
  }
  return true;
}

void LoadLt(State& s) {
  std::string err;
  void* lib = OpenFirst({"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}, &s.ltPath, &err);
  if (!lib) {
    s.ltError = err;
    return;
  }
  std::string miss;
  Lt& l = s.lt;
  Sym(lib, &l.cublasLtCreate, "cublasLtCreate", &miss);
  Sym(lib, &l.cublasLtDestroy, "cublasLtDestroy", &miss);
  Sym(lib, &l.cublasLtGetVersion, "cublasLtGetVersion", &miss);
  l.cublasLtGetStatusName = reinterpret_cast<const char* (*)(cublasStatus_t)>(dlsym(lib, "cublasLtGetStatusName"));
  Sym(lib, &l.cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate", &miss);
  Sym(lib, &l.cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy", &miss);
  Sym(lib, &l.cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", &miss);
  Sym(lib, &l.cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", &miss);
  Sym(lib, &l.cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", &miss);
  Sym(lib, &l.cublasLtMatrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute", &miss);
  Sym(lib, &l.cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", &miss);
  Sym(lib, &l.cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", &miss);
  Sym(lib, &l.cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", &miss);
  Sym(lib, &l.cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", &miss);
  Sym(lib, &l.cublasLtMatmul, "cublasLtMatmul", &miss);
  Sym(lib, &l.cublasLtMatrixTransformDescCreate, "cublasLtMatrixTransformDescCreate", &miss);
  Sym(lib, &l.cublasLtMatrixTransformDescDestroy, "cublasLtMatrixTransformDescDestroy", &miss);
  Sym(lib, &l.cublasLtMatrixTransformDescSetAttribute, "cublasLtMatrixTransformDescSetAttribute", &miss);
  Sym(lib, &l.cublasLtMatrixTransform, "cublasLtMatrixTransform", &miss);
  {
    // Optional: without them igemm times the heuristic's candidates only.
    std::string optional;
    Sym(lib, &l.cublasLtMatmulAlgoGetIds, "cublasLtMatmulAlgoGetIds", &optional);
    Sym(lib, &l.cublasLtMatmulAlgoInit, "cublasLtMatmulAlgoInit", &optional);
    Sym(lib, &l.cublasLtMatmulAlgoCheck, "cublasLtMatmulAlgoCheck", &optional);
    Sym(lib, &l.cublasLtMatmulAlgoCapGetAttribute, "cublasLtMatmulAlgoCapGetAttribute", &optional);
    Sym(lib, &l.cublasLtMatmulAlgoConfigSetAttribute, "cublasLtMatmulAlgoConfigSetAttribute", &optional);
    Sym(lib, &l.cublasLtMatmulAlgoConfigGetAttribute, "cublasLtMatmulAlgoConfigGetAttribute", &optional);
    if (!optional.empty()) l.cublasLtMatmulAlgoGetIds = nullptr;
  }
  if (!miss.empty()) {
    s.ltError = s.ltPath + " lacks " + miss;
    return;
  }
  s.hasLt = true;
}

void LoadNvrtc(State& s) {
  std::string err;
  void* lib = OpenFirst({"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11", "libnvrtc.so"},
                        &s.nvrtcPath, &err);
  if (!lib) {
    s.nvrtcError = err;
    return;
  }
  std::string miss;
  Nvrtc& n = s.rtc;
  Sym(lib, &n.nvrtcGetErrorString, "nvrtcGetErrorString", &miss);
  Sym(lib, &n.nvrtcVersion, "nvrtcVersion", &miss);
  Sym(lib, &n.nvrtcCreateProgram, "nvrtcCreateProgram", &miss);
  Sym(lib, &n.nvrtcDestroyProgram, "nvrtcDestroyProgram", &miss);
  Sym(lib, &n.nvrtcCompileProgram, "nvrtcCompileProgram", &miss);
  Sym(lib, &n.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", &miss);
  Sym(lib, &n.nvrtcGetCUBIN, "nvrtcGetCUBIN", &miss);
  Sym(lib, &n.nvrtcGetPTXSize, "nvrtcGetPTXSize", &miss);
  Sym(lib, &n.nvrtcGetPTX, "nvrtcGetPTX", &miss);
  Sym(lib, &n.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", &miss);
  Sym(lib, &n.nvrtcGetProgramLog, "nvrtcGetProgramLog", &miss);
  if (!miss.empty()) {
    s.nvrtcError = s.nvrtcPath + " lacks " + miss;
    return;
  }
  s.hasNvrtc = true;
}

bool Check(State& s, CUresult r, const char* what) {
  if (r == CUDA_SUCCESS) return true;
  s.errorCode = r;
  s.reason = std::string(what) + " failed: " + DriverError(r);
  return false;
}

}  // namespace

std::string DriverError(CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (g_state.drv.cuGetErrorName) g_state.drv.cuGetErrorName(r, &name);
  if (g_state.drv.cuGetErrorString) g_state.drv.cuGetErrorString(r, &text);
  return std::string(name ? name : "CUDA error") + " (" + std::to_string(r) + ")" + (text ? std::string(": ") + text : "");
}

State& Init() {
  State& s = g_state;
  if (s.tried) return s;
  s.tried = true;
  if (!LoadDriver(s)) return s;
  Driver& d = s.drv;
  if (!Check(s, d.cuInit(0), "cuInit")) {
    if (s.errorCode == CUDA_ERROR_NO_DEVICE) s.reason = "no CUDA device was found (cuInit: " + DriverError(s.errorCode) + ")";
    return s;
  }
  d.cuDriverGetVersion(&s.driverVersion);
  int count = 0;
  if (!Check(s, d.cuDeviceGetCount(&count), "cuDeviceGetCount")) return s;
  if (count == 0) {
    s.reason = "no CUDA device was found";
    return s;
  }
  if (!Check(s, d.cuDeviceGet(&s.device, 0), "cuDeviceGet")) return s;
  char name[256] = {0};
  d.cuDeviceGetName(name, sizeof(name) - 1, s.device);
  s.deviceName = name;
  d.cuDeviceGetAttribute(&s.ccMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, s.device);
  d.cuDeviceGetAttribute(&s.ccMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, s.device);
  d.cuDeviceGetAttribute(&s.smCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, s.device);
  d.cuDeviceTotalMem(&s.totalMem, s.device);
  if (!Check(s, d.cuDevicePrimaryCtxRetain(&s.ctx, s.device), "cuDevicePrimaryCtxRetain")) return s;
  if (!Check(s, d.cuCtxSetCurrent(s.ctx), "cuCtxSetCurrent")) return s;
  // One non-blocking stream: every op, copy and GEMM of bminf is queued on it in program order, which
  // is what lets the device pool reuse a freed block at once (see packages/allocator/src/device-pool.ts).
  if (!Check(s, d.cuStreamCreate(&s.stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate")) return s;
  LoadLt(s);
  LoadNvrtc(s);
  if (!s.hasNvrtc) {
    s.reason = "NVRTC (the CUDA run-time compiler, needed for bminf's kernels) is not installed: " + s.nvrtcError;
    return s;
  }
  if (!s.hasLt) {
    s.reason = "cublasLt (needed for bminf's GEMMs) is not installed: " + s.ltError;
    return s;
  }
  s.available = true;
  return s;
}

}  // namespace bminf::cuda
