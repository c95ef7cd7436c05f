// JS-visible handles for device memory, modules, kernels and events, and the argument checks that
// every CUDA binding runs before it touches memory: a device pointer only ever comes from a Region
// this addon allocated, at an offset and length checked against the region's size.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "cuda/api.h"

namespace bminf::cuda {

struct Region {
  CUdeviceptr ptr = 0;
  size_t size = 0;
  bool freed = false;
};
struct Module {
  CUmodule mod = nullptr;
};
struct Function {
  CUfunction fn = nullptr;
  std::string name;
};
struct Event {
  CUevent ev = nullptr;
};
// A TMA tensor map over bytes of a Region; keeps the Region's handle alive, and launch() refuses it
// once the Region was freed.
struct TensorMap {
  CUtensorMap map{};
  Region* region = nullptr;
  Napi::Reference<Napi::Value> keep;
};

extern const napi_type_tag kRegionTag, kModuleTag, kFunctionTag, kEventTag, kTensorMapTag;

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowError(Napi::Env env, const std::string& msg, const char* code = nullptr);

// The state after Init(); throws "CUDA is unavailable: <reason>" when it is not usable.
State& Ready(Napi::Env env);
// Throws a JS Error naming the call when a driver call failed (code BMINF_CUDA_OOM for out of memory).
void CheckDrv(Napi::Env env, CUresult r, const char* what);

// BMINF_SYNC_LAUNCHES=1 (a debugging switch, off by default): every kernel launch and cublasLt call
// outside a capture is waited for, and a fault is thrown naming that launch (`what`) instead of
// surfacing at some later call. CUDA_LAUNCH_BLOCKING=1 alone does not do it: a launch returns before
// its kernel's fault is recorded, so the error comes back from the launch after it.
bool SyncLaunches();
void CheckLaunchDone(Napi::Env env, State& s, const std::string& what);

template <typename T>
T* Unwrap(const Napi::Value& v, const napi_type_tag& tag, const char* what, const char* arg) {
  if (!v.IsExternal() || !v.As<Napi::External<T>>().CheckTypeTag(&tag)) {
    ThrowType(v.Env(), std::string(arg) + " must be a " + what + " handle made by this addon.");
  }
  return v.As<Napi::External<T>>().Data();
}

// The work `issue` queues on the state's stream, captured (relaxed stream capture) into an executable
// graph for cuGraphLaunch; nullptr where `issue` reports failure, or capture or instantiation fails
// (the caller then runs the work directly, which reports its own error). Shared by cublasLt's igemm
// graphs (blaslt.cc) and the launch graphs (module.cc); the caller checks the capture API is loaded.
template <typename Issue>
CUgraphExec CaptureGraph(State& s, Issue&& issue) {
  if (s.drv.cuStreamBeginCapture(s.stream, CU_STREAM_CAPTURE_MODE_RELAXED) != CUDA_SUCCESS) return nullptr;
  const bool issued = issue();
  CUgraph g = nullptr;
  const CUresult r = s.drv.cuStreamEndCapture(s.stream, &g);
  CUgraphExec e = nullptr;
  if (issued && r == CUDA_SUCCESS && g && s.drv.cuGraphInstantiateWithFlags(&e, g, 0) != CUDA_SUCCESS) e = nullptr;
  if (g) s.drv.cuGraphDestroy(g);
  return e;
}

// A non-negative integer that fits a double exactly.
int64_t ToIndex(const Napi::Value& v, const char* arg);
// An integer in [lo, hi].
int64_t ToInt(const Napi::Value& v, const char* arg, int64_t lo, int64_t hi);

// Reads (region, byteOffset, byteLength) from info[i..i+2] and returns the device address after
// checking that the region is alive and the range lies inside it.
CUdeviceptr SpanAt(const Napi::CallbackInfo& info, size_t i, const char* arg, size_t* lengthOut = nullptr);

}  // namespace bminf::cuda
