// The addon's entry point. Each area of the native code registers its own exports here, so that
// areas can grow in their own files without touching one another.
#include <napi.h>

namespace bminf {
void RegisterCpu(Napi::Env env, Napi::Object exports);   // src/cpu/register.cc
void RegisterCuda(Napi::Env env, Napi::Object exports);  // src/cuda/register.cc
void InstallCrashTrace();                                // src/crash_trace.cc (BMINF_CRASH_TRACE=1)
}  // namespace bminf

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  bminf::InstallCrashTrace();
  Napi::Object cpu = Napi::Object::New(env);
  bminf::RegisterCpu(env, cpu);
  exports.Set("cpu", cpu);
  Napi::Object cuda = Napi::Object::New(env);
  bminf::RegisterCuda(env, cuda);
  exports.Set("cuda", cuda);
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  return exports;
}

NODE_API_MODULE(bminf, Init)
