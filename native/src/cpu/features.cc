#include "cpu/features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

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

Isa CpuIsa() {
#if defined(__x86_64__) || defined(__i386__)
  static const Isa isa = !CpuHasAvx2() ? Isa::kPlain
                         : __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                                   __builtin_cpu_supports("avx512vnni")
                             ? Isa::kAvx512
                             : Isa::kAvx2;
  return isa;
#else
  return Isa::kPlain;
#endif
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPlain: return "plain";
    case Isa::kAvx2: return "avx2";
    default: return "avx512";
  }
}

bool ParseIsa(const char* name, Isa* out) {
  for (Isa isa : {Isa::kPlain, Isa::kAvx2, Isa::kAvx512}) {
    if (std::strcmp(name, IsaName(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

// BMINF_CPU_ISA names a path (an unknown name is ignored: the best path runs); BMINF_CPU_PLAIN=1,
// the older switch, means plain.
static Isa EnvIsa() {
  const char* plain = std::getenv("BMINF_CPU_PLAIN");
  if (plain && *plain && std::strcmp(plain, "0") != 0) return Isa::kPlain;
  Isa isa = Isa::kAvx512;
  const char* v = std::getenv("BMINF_CPU_ISA");
  if (v && *v && !ParseIsa(v, &isa)) isa = Isa::kAvx512;
  return isa;
}

static std::atomic<int> g_forced{static_cast<int>(EnvIsa())};

Isa ActiveIsa() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  const Isa best = CpuIsa();
  return forced < static_cast<int>(best) ? static_cast<Isa>(forced) : best;
}

void SetIsa(Isa isa) { g_forced.store(static_cast<int>(isa), std::memory_order_relaxed); }
void SetIsaDefault() { g_forced.store(static_cast<int>(EnvIsa()), std::memory_order_relaxed); }

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
