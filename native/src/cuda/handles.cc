#include "cuda/handles.h"

#include <cmath>
#include <cstdlib>

namespace bminf::cuda {

const napi_type_tag kRegionTag = {0x6b6d696e66726567ULL, 0x0000000000000001ULL};
const napi_type_tag kModuleTag = {0x6b6d696e66726567ULL, 0x0000000000000002ULL};
const napi_type_tag kFunctionTag = {0x6b6d696e66726567ULL, 0x0000000000000003ULL};
const napi_type_tag kEventTag = {0x6b6d696e66726567ULL, 0x0000000000000004ULL};
const napi_type_tag kTensorMapTag = {0x6b6d696e66726567ULL, 0x0000000000000005ULL};

void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
void ThrowRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }
void ThrowError(Napi::Env env, const std::string& msg, const char* code) {
  Napi::Error e = Napi::Error::New(env, msg);
  if (code) e.Set("code", Napi::String::New(env, code));
  throw e;
}

State& Ready(Napi::Env env) {
  State& s = Init();
  if (!s.available) ThrowError(env, "CUDA is unavailable: " + s.reason, "BMINF_CUDA_UNAVAILABLE");
  // Make the primary context current once per thread (JS calls come on the main thread; a worker
  // thread that loads the addon gets it on its first call).
  thread_local bool current = false;
  if (!current) {
    s.drv.cuCtxSetCurrent(s.ctx);
    current = true;
  }
  return s;
}

void CheckDrv(Napi::Env env, CUresult r, const char* what) {
  if (r == CUDA_SUCCESS) return;
  ThrowError(env, std::string(what) + " failed: " + DriverError(r),
             r == CUDA_ERROR_OUT_OF_MEMORY ? "BMINF_CUDA_OOM" : "BMINF_CUDA_ERROR");
}

bool SyncLaunches() {
  static const bool on = [] {
    const char* v = std::getenv("BMINF_SYNC_LAUNCHES");
    return v != nullptr && v[0] != '\0' && !(v[0] == '0' && v[1] == '\0');
  }();
  return on;
}

void CheckLaunchDone(Napi::Env env, State& s, const std::string& what) {
  if (!SyncLaunches() || s.capturing) return;
  const CUresult r = s.drv.cuStreamSynchronize(s.stream);
  if (r == CUDA_SUCCESS) return;
  ThrowError(env, what + " faulted (BMINF_SYNC_LAUNCHES=1 waited for it): " + DriverError(r), "BMINF_CUDA_ERROR");
}

int64_t ToIndex(const Napi::Value& v, const char* arg) {
  if (!v.IsNumber()) ThrowType(v.Env(), std::string(arg) + " must be a number.");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) {
    ThrowRange(v.Env(), std::string(arg) + " must be a non-negative integer, but is " + std::to_string(d) + ".");
  }
  return static_cast<int64_t>(d);
}

int64_t ToInt(const Napi::Value& v, const char* arg, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) ThrowType(v.Env(), std::string(arg) + " must be a number.");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    ThrowRange(v.Env(), std::string(arg) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                            "], but is " + std::to_string(d) + ".");
  }
  return static_cast<int64_t>(d);
}

CUdeviceptr SpanAt(const Napi::CallbackInfo& info, size_t i, const char* arg, size_t* lengthOut) {
  Napi::Env env = info.Env();
  if (info.Length() < i + 3) ThrowType(env, std::string("missing ") + arg + " (region, byteOffset, byteLength).");
  Region* r = Unwrap<Region>(info[i], kRegionTag, "device region", arg);
  if (r->freed) ThrowError(env, std::string(arg) + ": the device region was already freed.", "BMINF_DISPOSED");
  int64_t off = ToIndex(info[i + 1], arg);
  int64_t len = ToIndex(info[i + 2], arg);
  if (static_cast<uint64_t>(off) > r->size || static_cast<uint64_t>(len) > r->size - static_cast<uint64_t>(off)) {
    ThrowRange(env, std::string(arg) + ": bytes " + std::to_string(off) + ".." + std::to_string(off + len) +
                        " lie outside the device region of " + std::to_string(r->size) + " bytes.");
  }
  if (lengthOut) *lengthOut = static_cast<size_t>(len);
  return r->ptr + static_cast<CUdeviceptr>(off);
}

}  // namespace bminf::cuda
