// AVX2 row quantization: the same float32 division by the float16-rounded scale and the same
// round-to-nearest-even as the scalar code (vdivps and vroundps are exact IEEE operations), so the
// results are bit-identical.
#include <cmath>
#include <cstdlib>

#include "cpu/features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

float AbsMaxAvx2(const float* x, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  // max_ps returns its second operand when either is NaN: NaN elements are skipped, as in the scalar loop.
  for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), acc);
  alignas(32) float t[8];
  _mm256_store_ps(t, acc);
  float m = 0.f;
  for (float v : t) m = v > m ? v : m;
  for (; i < n; i++) {
    float a = std::fabs(x[i]);
    m = a > m ? a : m;
  }
  return m;
}

namespace {
inline __m256i Quantize8(const float* x, __m256 scale) {
  __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> 0
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.f)), _mm256_set1_ps(127.f));
  return _mm256_cvtps_epi32(v);
}
}  // namespace

void QuantizeRowAvx2(const float* x, int64_t n, float scale, int8_t* q) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a = Quantize8(x + i, s), b = Quantize8(x + i + 8, s);
    __m256i c = Quantize8(x + i + 16, s), d = Quantize8(x + i + 24, s);
    // packs work within 128-bit lanes; the permute puts the four groups of 8 back in order.
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), packed);
  }
  for (; i < n; i++) {
    float v = std::nearbyint(x[i] / scale);
    v = v > 127.f ? 127.f : v < -127.f ? -127.f : v;
    q[i] = v == v ? static_cast<int8_t>(v) : 0;
  }
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

float AbsMaxAvx2(const float*, int64_t) { std::abort(); }
void QuantizeRowAvx2(const float*, int64_t, float, int8_t*) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
