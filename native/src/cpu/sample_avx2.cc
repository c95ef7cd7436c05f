// The sampler's vector loops on AVX2/FMA (sample_exp.h): e^x 4 wide, and the first pass over the
// logits. Chosen at run time by sample.cc when UseAvx2(). The weights may differ from the baseline
// build's by an ulp (FMA contracts the polynomial); both are within an ulp of e^x.
#include <immintrin.h>

#include <limits>

#include "cpu/sample_exp.h"

namespace bminf {
namespace cpu {

void WeightsAvx2(const double* v, double max, double temperature, double* w, size_t n) {
  WeightsLoop(v, max, temperature, w, n);
}

LogitScan ScanLogitsAvx2(double* x, int64_t n) {
  const double inf = std::numeric_limits<double>::infinity();
  const __m256d ninf = _mm256_set1_pd(-inf);
  __m256d mx = ninf;
  int64_t finite = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d v = _mm256_loadu_pd(x + i);
    v = _mm256_blendv_pd(ninf, v, _mm256_cmp_pd(v, v, _CMP_ORD_Q));  // NaN counts as -Infinity
    _mm256_storeu_pd(x + i, v);
    mx = _mm256_max_pd(mx, v);
    finite += __builtin_popcount(_mm256_movemask_pd(_mm256_cmp_pd(v, ninf, _CMP_GT_OQ)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, mx);
  double best = lanes[0];
  for (int l = 1; l < 4; l++) best = lanes[l] > best ? lanes[l] : best;
  for (; i < n; i++) {
    const double v = x[i] == x[i] ? x[i] : -inf;
    x[i] = v;
    finite += v > -inf;
    best = v > best ? v : best;
  }
  return {best, finite};
}

}  // namespace cpu
}  // namespace bminf
