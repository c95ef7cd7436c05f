// The CUDA side of the addon: `info()` (never throws; says why CUDA is unavailable when it is), and the
// memory, module/launch and cublasLt bindings, which throw "CUDA is unavailable: <reason>" when called
// without a usable GPU.
#include <napi.h>

#include "cuda/api.h"
#include "cuda/memory.h"

namespace bminf {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cuda::State& s = cuda::Init();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", Napi::Boolean::New(env, s.available));
  if (!s.available) o.Set("reason", Napi::String::New(env, s.reason));
  if (s.errorCode) o.Set("errorCode", Napi::Number::New(env, s.errorCode));
  Napi::Object paths = Napi::Object::New(env);
  if (!s.cudaPath.empty()) paths.Set("cuda", s.cudaPath);
  if (!s.ltPath.empty()) paths.Set("cublasLt", s.ltPath);
  if (!s.nvrtcPath.empty()) paths.Set("nvrtc", s.nvrtcPath);
  o.Set("paths", paths);
  if (s.driverVersion) o.Set("driverVersion", Napi::Number::New(env, s.driverVersion));
  if (!s.deviceName.empty()) {
    o.Set("deviceName", s.deviceName);
    Napi::Array cc = Napi::Array::New(env, 2);
    cc.Set(0u, s.ccMajor), cc.Set(1u, s.ccMinor);
    o.Set("computeCapability", cc);
    o.Set("multiprocessors", s.smCount);
    o.Set("totalMemory", Napi::Number::New(env, static_cast<double>(s.totalMem)));
  }
  if (s.available) {
    size_t free = 0, total = 0;
    if (s.drv.cuMemGetInfo(&free, &total) == cuda::CUDA_SUCCESS) o.Set("freeMemory", Napi::Number::New(env, static_cast<double>(free)));
  }
  if (s.hasLt) o.Set("cublasLtVersion", Napi::Number::New(env, static_cast<double>(s.lt.cublasLtGetVersion())));
  if (!s.ltError.empty()) o.Set("cublasLtError", s.ltError);
  if (s.hasNvrtc) {
    int major = 0, minor = 0;
    s.rtc.nvrtcVersion(&major, &minor);
    Napi::Array v = Napi::Array::New(env, 2);
    v.Set(0u, major), v.Set(1u, minor);
    o.Set("nvrtcVersion", v);
  }
  if (!s.nvrtcError.empty()) o.Set("nvrtcError", s.nvrtcError);
  return o;
}

}  // namespace

void RegisterCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  // Kept from the placeholder: true when a usable GPU, cublasLt and NVRTC were found.
  exports.Set("available", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), cuda::Init().available);
  }));
  cuda::RegisterMemory(env, exports);
  cuda::RegisterModules(env, exports);
  cuda::RegisterBlasLt(env, exports);
  cuda::RegisterStepGraphs(env, exports);
  cuda::RegisterStreaming(env, exports);
  cuda::RegisterTensorMaps(env, exports);
  // Switches that only benchmarks and tests use, apart from what the product calls (cuda.bench).
  Napi::Object bench = Napi::Object::New(env);
  cuda::RegisterBlasLtBench(env, bench);
  exports.Set("bench", bench);
}

}  // namespace bminf
