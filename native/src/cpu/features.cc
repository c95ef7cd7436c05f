#include "cpu/features.h"

#include <atomic>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
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

static bool CpuHasAvxVnni() {
#if defined(__x86_64__) || defined(__i386__)
  // CPUID leaf 7, sub-leaf 1, EAX bit 4 (GCC 12's __builtin_cpu_supports does not know this one).
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
#else
  return false;
#endif
}

static bool CpuHasAvx512Vnni() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool CpuSupports(Isa isa) {
  static const bool avx2 = CpuHasAvx2();
  static const bool avxvnni = avx2 && CpuHasAvxVnni();
  static const bool avx512 = avx2 && CpuHasAvx512Vnni();
  switch (isa) {
    case Isa::kPlain: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvxVnni: return avxvnni;
    default: return avx512;
  }
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPlain: return "plain";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avxvnni";
    default: return "avx512";
  }
}

bool ParseIsa(const char* name, Isa* out) {
  for (int i = 0; i < kIsaCount; i++) {
    if (std::strcmp(name, IsaName(static_cast<Isa>(i))) == 0) {
      *out = static_cast<Isa>(i);
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
  int i = g_forced.load(std::memory_order_relaxed);
  while (i > 0 && !CpuSupports(static_cast<Isa>(i))) i--;
  return static_cast<Isa>(i);
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
