// The inner loops of attendCache (step_ops.cc) with AVX2/FMA/F16C: a query row against cached key
// rows, and the weighted sum of cached value rows, reading float16 caches directly. Going through a
// float32 copy of each row (LoadRow) cost a call and a store per 64-element row, several times the
// arithmetic: a decode step of tiny-cpm1 spent a quarter of its time here. (Compiled with -mavx2
// -mfma -mf16c; only called when the CPU has them.)
#include <cstdlib>

#include "cpu/attend.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

template <bool Half>
inline __m256 Load8(const void* p, int64_t i) {
  if (Half) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}

template <bool Half>
inline float Load1(const void* p, int64_t i) {
  if (Half) return _cvtsh_ss(static_cast<const uint16_t*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// s[j] = scale · q · row j for `rows` rows of `dim` elements, `stride` apart (two independent FMA
// chains per row: a 64-element row is only 8 steps, too few to hide one chain's latency).
template <bool Half>
void Scores(const float* q, const void* keys, int64_t stride, int64_t rows, int64_t dim, float scale, float* s) {
  for (int64_t j = 0; j < rows; j++) {
    const int64_t base = j * stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 16 <= dim; p += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), Load8<Half>(keys, base + p), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p + 8), Load8<Half>(keys, base + p + 8), a1);
    }
    if (p + 8 <= dim) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), Load8<Half>(keys, base + p), a0);
      p += 8;
    }
    float v = Hsum(_mm256_add_ps(a0, a1));
    for (; p < dim; p++) v += q[p] * Load1<Half>(keys, base + p);
    s[j] = scale * v;
  }
}

// acc[0..dim) = Σ_j w[j] · row j.
template <bool Half>
void Mix(const float* w, const void* values, int64_t stride, int64_t rows, int64_t dim, float* acc) {
  int64_t p = 0;
  // 32 columns at a time in registers across all rows, then the rest 8 and 1 at a time.
  for (; p + 32 <= dim; p += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t j = 0; j < rows; j++) {
      const __m256 wj = _mm256_set1_ps(w[j]);
      const int64_t base = j * stride + p;
      a0 = _mm256_fmadd_ps(wj, Load8<Half>(values, base), a0);
      a1 = _mm256_fmadd_ps(wj, Load8<Half>(values, base + 8), a1);
      a2 = _mm256_fmadd_ps(wj, Load8<Half>(values, base + 16), a2);
      a3 = _mm256_fmadd_ps(wj, Load8<Half>(values, base + 24), a3);
    }
    _mm256_storeu_ps(acc + p, a0);
    _mm256_storeu_ps(acc + p + 8, a1);
    _mm256_storeu_ps(acc + p + 16, a2);
    _mm256_storeu_ps(acc + p + 24, a3);
  }
  for (; p + 8 <= dim; p += 8) {
    __m256 a0 = _mm256_setzero_ps();
    for (int64_t j = 0; j < rows; j++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), Load8<Half>(values, j * stride + p), a0);
    _mm256_storeu_ps(acc + p, a0);
  }
  for (; p < dim; p++) {
    float a = 0.f;
    for (int64_t j = 0; j < rows; j++) a += w[j] * Load1<Half>(values, j * stride + p);
    acc[p] = a;
  }
}

}  // namespace

void AttendScoresAvx2(const float* q, const void* keys, bool half, int64_t stride, int64_t rows, int64_t dim, float scale,
                      float* s) {
  if (half) Scores<true>(q, keys, stride, rows, dim, scale, s);
  else Scores<false>(q, keys, stride, rows, dim, scale, s);
}

void AttendMixAvx2(const float* w, const void* values, bool half, int64_t stride, int64_t rows, int64_t dim, float* acc) {
  if (half) Mix<true>(w, values, stride, rows, dim, acc);
  else Mix<false>(w, values, stride, rows, dim, acc);
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void AttendScoresAvx2(const float*, const void*, bool, int64_t, int64_t, int64_t, float, float*) { std::abort(); }
void AttendMixAvx2(const float*, const void*, bool, int64_t, int64_t, int64_t, float*) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
