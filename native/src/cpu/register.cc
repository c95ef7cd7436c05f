#include <napi.h>

namespace bminf {
// Placeholder until the CPU kernels land: registers nothing yet.
void RegisterCpu(Napi::Env env, Napi::Object exports) {}
}  // namespace bminf
