// Vectorised exp for GELU and softmax (AVX2+FMA). exp is the Cephes single-precision scheme: n =
// round(x·log2 e), r = x - n·ln 2 in two parts, a degree-6 polynomial, times 2^n; about 1 ulp over
// the float range. Below -87.3 the result is 0 (softmax's masked -inf entries stay exactly 0).
#include <cstdlib>

#include "cpu/features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

inline __m256 Exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-87.3365478515625f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(x, hi);
  x = _mm256_max_ps(x, lo);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // 2^n through the exponent bits; n is in [-126, 127] after the clamps.
  const __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(n));
  return _mm256_andnot_ps(underflow, y);
}

}  // namespace

void GeluAvx2(const float* x, float* y, int64_t n) {
  // 0.5·x·(1 + tanh(u)) = x / (1 + exp(-2u)): the same function, without tanh's cancellation.
  const __m256 c = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
  const __m256 c3 = _mm256_set1_ps(0.044715f);
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(c3, v), _mm256_mul_ps(v, v), v);  // x + 0.044715 x³
    const __m256 e = Exp8(_mm256_mul_ps(c, inner));
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
  }
  if (i < n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = i; j < n; j++) t[j - i] = x[j];
    GeluAvx2(t, t, 8);
    for (int64_t j = i; j < n; j++) y[j] = t[j - i];
  }
}

float ExpShiftSumAvx2(float* v, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(v + i), s));
    _mm256_storeu_ps(v + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, acc);
  float sum = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
  if (i < n) {
    alignas(32) float r[8];
    for (int j = 0; j < 8; j++) r[j] = i + j < n ? v[i + j] - shift : -1e30f;
    _mm256_store_ps(r, Exp8(_mm256_load_ps(r)));
    for (int64_t j = i; j < n; j++) {
      v[j] = r[j - i];
      sum += r[j - i];
    }
  }
  return sum;
}

float ScaleBiasMaxAvx2(const float* x, const float* bias, float scale, float* y, int64_t n) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256 mx = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(s, _mm256_loadu_ps(x + i));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
    _mm256_storeu_ps(y + i, v);
    mx = _mm256_max_ps(v, mx);  // NaN skipped, as in the scalar loop
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, mx);
  float m = t[0];
  for (int u = 1; u < 8; u++) m = t[u] > m ? t[u] : m;
  for (; i < n; i++) {
    float v = scale * x[i];
    if (bias) v += bias[i];
    y[i] = v;
    m = v > m ? v : m;
  }
  return m;
}

int64_t ArgmaxAvx2(const float* x, int64_t n) {
  // The largest value: max_ps(v, m) keeps m where v is NaN, so NaN never wins.
  __m256 m = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
  alignas(32) float t[8];
  _mm256_store_ps(t, m);
  float best = t[0];
  for (int u = 1; u < 8; u++) best = t[u] > best ? t[u] : best;
  for (; i < n; i++) best = x[i] > best ? x[i] : best;
  if (!(best > -__builtin_inff())) return -1;  // every value NaN or -inf
  // Its first occurrence.
  const __m256 b = _mm256_set1_ps(best);
  for (i = 0; i + 8 <= n; i += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_EQ_OQ));
    if (mask) return i + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < n; i++)
    if (x[i] == best) return i;
  return -1;  // not reached
}

void ScaleInPlaceAvx2(float* y, float scale, int64_t n) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), s));
  for (; i < n; i++) y[i] *= scale;
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void GeluAvx2(const float*, float*, int64_t) { std::abort(); }
float ExpShiftSumAvx2(float*, int64_t, float) { std::abort(); }
float ScaleBiasMaxAvx2(const float*, const float*, float, float*, int64_t) { std::abort(); }
void ScaleInPlaceAvx2(float*, float, int64_t) { std::abort(); }
int64_t ArgmaxAvx2(const float*, int64_t) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
