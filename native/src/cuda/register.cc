#include <napi.h>

namespace bminf {
// Placeholder until the CUDA backend lands: reports that it is unavailable.
void RegisterCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("available", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), false);
  }));
}
}  // namespace bminf
