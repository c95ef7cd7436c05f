#include "cpu/features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cpu/half.h"

namespace bminf {
namespace cpu {

bool CpuHasAvx2() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return has;
#else
  return false;
#endif
}

static bool EnvForcesPlain() {
  const char* v = std::getenv("BMINF_CPU_PLAIN");
  return v && *v && std::strcmp(v, "0") != 0;
}

static std::atomic<bool> g_force_plain{EnvForcesPlain()};

bool UseAvx2() { return CpuHasAvx2() && !g_force_plain.load(std::memory_order_relaxed); }

// false restores the default, which BMINF_CPU_PLAIN may have set to plain.
void SetForcePlain(bool plain) { g_force_plain.store(plain || EnvForcesPlain(), std::memory_order_relaxed); }

void HalfToFloatN(const uint16_t* src, float* dst, size_t n) {
  if (UseAvx2()) return HalfToFloatNAvx2(src, dst, n);
  for (size_t i = 0; i < n; i++) dst[i] = HalfToFloat(src[i]);
}

void FloatToHalfN(const float* src, uint16_t* dst, size_t n) {
  if (UseAvx2()) return FloatToHalfNAvx2(src, dst, n);
  for (size_t i = 0; i < n; i++) dst[i] = FloatToHalf(src[i]);
}

}  // namespace cpu
}  // namespace bminf
