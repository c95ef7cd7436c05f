// AVX-512 row quantization: the same float32 division by the float16-rounded scale and the same
// round-to-nearest-even as the scalar code (vdivps and vrndscaleps are exact IEEE operations), so
// the results are bit-identical; tails by masked loads and stores instead of a scalar loop.
// (Compiled with the AVX-512 flags; only called on the AVX-512 path.)
#include <cstdlib>

#include "cpu/features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

inline __mmask16 Lanes(int64_t count) { return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1); }

float AbsMaxAvx512(const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    // max_ps returns its second operand when either is NaN: NaN elements are skipped, as in the
    // scalar loop; masked-off lanes load 0, which cannot raise the max.
    const __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(Lanes(n - i), x + i));
    acc = _mm512_max_ps(v, acc);
  }
  return _mm512_reduce_max_ps(acc);
}

void QuantizeRowAvx512(const float* x, int64_t n, float scale, int8_t* q) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = Lanes(n - i);
    __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  // NaN -> 0
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
  }
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (the AVX-512 path is never chosen) but must exist for the addon to link.

namespace bminf {
namespace cpu {

float AbsMaxAvx512(const float*, int64_t) { std::abort(); }
void QuantizeRowAvx512(const float*, int64_t, float, int8_t*) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
