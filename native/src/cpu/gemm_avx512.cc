// The float GEMM's micro-kernel on 512-bit vectors: 6 rows x 32 columns (two of the packed 16-column
// B slivers at once) in 12 zmm accumulators. On CPUs with full-width 512-bit FMA units (Zen 5, Intel
// server cores) it does twice the AVX2 kernel's multiply-adds per instruction; where 512-bit ops are
// split in two (Zen 4) it does as many. Each C element is summed over k in the same order, one FMA
// per k, as the AVX2 kernel does: the results are the same bits. (Compiled with the AVX-512 flags;
// only called on the AVX-512 path.)
#include <cstdlib>

#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

void GemmKernelWideAvx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                          bool accumulate) {
  const float* b1 = b + kc * kGemmNr;  // the second sliver
  __m512 acc[kGemmMr][2];
  for (int i = 0; i < kGemmMr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m512 x0 = _mm512_loadu_ps(b + p * kGemmNr), x1 = _mm512_loadu_ps(b1 + p * kGemmNr);
    for (int i = 0; i < kGemmMr; i++) {
      const __m512 av = _mm512_set1_ps(a[p * kGemmMr + i]);
      acc[i][0] = _mm512_fmadd_ps(av, x0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, x1, acc[i][1]);
    }
  }
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? __mmask16(0xFFFF) : nr > 16 ? __mmask16((1u << (nr - 16)) - 1) : __mmask16(0);
  for (int i = 0; i < mr; i++) {
    float* ci = c + i * ldc;
    __m512 v0 = acc[i][0], v1 = acc[i][1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, m0, v0);
    _mm512_mask_storeu_ps(ci + 16, m1, v1);
  }
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: never called (the AVX-512 path is never chosen) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void GemmKernelWideAvx512(int64_t, const float*, const float*, float*, int64_t, int, int, bool) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
