// F16C bulk conversions. (Compiled with -mavx2 -mfma -mf16c; only called when the CPU has them.)
#include <cstdlib>

#include "cpu/features.h"
#include "cpu/half.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

void HalfToFloatNAvx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

void FloatToHalfNAvx2(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void HalfToFloatNAvx2(const uint16_t*, float*, size_t) { std::abort(); }
void FloatToHalfNAvx2(const float*, uint16_t*, size_t) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
