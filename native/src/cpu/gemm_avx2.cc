// The AVX2+FMA float GEMM kernels: a 6 x 16 micro-kernel (12 accumulators, 2 B vectors and one
// broadcast A value: 15 of the 16 ymm registers) over panels packed to float32 (F16C converts float16
// operands while packing, so one kernel serves both storage types).
#include <cstdlib>
#include <vector>

#include "cpu/features.h"
#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

// Elements (float16 bits or float32) at `index` as float32, one or 8 consecutive: the storage type as
// a template parameter (the small-m kernels' inner loops carry no branch on it) or an Operand's.
template <bool Half>
inline __m256 LoadB8(const void* data, int64_t index) {
  if (Half) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(data) + index)));
  return _mm256_loadu_ps(static_cast<const float*>(data) + index);
}
template <bool Half>
inline float LoadB(const void* data, int64_t index) {
  return Half ? _cvtsh_ss(static_cast<const uint16_t*>(data)[index]) : static_cast<const float*>(data)[index];
}

inline float Load(const Operand& x, int64_t index) { return x.half ? LoadB<true>(x.data, index) : LoadB<false>(x.data, index); }
inline __m256 Load8(const Operand& x, int64_t index) {
  return x.half ? LoadB8<true>(x.data, index) : LoadB8<false>(x.data, index);
}

void PackA(const Operand& a, int64_t i0, int64_t p0, int64_t mc, int64_t kc, float* out) {
  for (int64_t s = 0; s < mc; s += kGemmMr) {
    const int rows = static_cast<int>(mc - s < kGemmMr ? mc - s : kGemmMr);
    if (a.cs == 1 && rows == kGemmMr) {
      // Rows run along k: walk them 8 at a time and scatter into the sliver.
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        alignas(32) float t[kGemmMr][8];
        for (int i = 0; i < kGemmMr; i++) _mm256_store_ps(t[i], Load8(a, (i0 + s + i) * a.rs + p0 + p));
        for (int q = 0; q < 8; q++)
          for (int i = 0; i < kGemmMr; i++) out[(p + q) * kGemmMr + i] = t[i][q];
      }
      for (; p < kc; p++)
        for (int i = 0; i < kGemmMr; i++) out[p * kGemmMr + i] = Load(a, (i0 + s + i) * a.rs + p0 + p);
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < kGemmMr; i++)
          out[p * kGemmMr + i] = i < rows ? Load(a, (i0 + s + i) * a.rs + (p0 + p) * a.cs) : 0.f;
    }
    out += kc * kGemmMr;
  }
}

// Transposes the 8 x 8 block r[0..7] (rows) in registers.
inline void Transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void PackB(const Operand& b, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out) {
  for (int64_t s = 0; s < nc; s += kGemmNr) {
    const int cols = static_cast<int>(nc - s < kGemmNr ? nc - s : kGemmNr);
    if (b.rs == 1 && b.cs != 1 && cols == kGemmNr) {
      // A transposed weight (columns of op(B) run along k): 8 x 8 register transposes.
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        for (int half = 0; half < 2; half++) {
          __m256 r[8];
          for (int j = 0; j < 8; j++) r[j] = Load8(b, (j0 + s + half * 8 + j) * b.cs + p0 + p);
          Transpose8(r);
          for (int q = 0; q < 8; q++) _mm256_storeu_ps(out + (p + q) * kGemmNr + half * 8, r[q]);
        }
      }
      for (; p < kc; p++)
        for (int j = 0; j < kGemmNr; j++) out[p * kGemmNr + j] = Load(b, (p0 + p) + (j0 + s + j) * b.cs);
    } else if (b.cs == 1 && cols == kGemmNr) {
      for (int64_t p = 0; p < kc; p++) {
        int64_t at = (p0 + p) * b.rs + j0 + s;
        _mm256_storeu_ps(out + p * kGemmNr, Load8(b, at));
        _mm256_storeu_ps(out + p * kGemmNr + 8, Load8(b, at + 8));
      }
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int j = 0; j < kGemmNr; j++)
          out[p * kGemmNr + j] = j < cols ? Load(b, (p0 + p) * b.rs + (j0 + s + j) * b.cs) : 0.f;
    }
    out += kc * kGemmNr;
  }
}

void Kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, bool accumulate) {
  // The C tile is read and written only after the k loop: ask for its lines now, so that they arrive
  // (from L3, usually) while the loop runs.
  for (int i = 0; i < mr; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kGemmNr - 1), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < kc; p++) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av;
    av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    a += kGemmMr;
    b += kGemmNr;
  }
  alignas(32) float t[kGemmMr][kGemmNr];
  _mm256_store_ps(t[0], c00); _mm256_store_ps(t[0] + 8, c01);
  _mm256_store_ps(t[1], c10); _mm256_store_ps(t[1] + 8, c11);
  _mm256_store_ps(t[2], c20); _mm256_store_ps(t[2] + 8, c21);
  _mm256_store_ps(t[3], c30); _mm256_store_ps(t[3] + 8, c31);
  _mm256_store_ps(t[4], c40); _mm256_store_ps(t[4] + 8, c41);
  _mm256_store_ps(t[5], c50); _mm256_store_ps(t[5] + 8, c51);
  if (nr == kGemmNr) {
    for (int i = 0; i < mr; i++) {
      float* ci = c + i * ldc;
      __m256 v0 = _mm256_load_ps(t[i]), v1 = _mm256_load_ps(t[i] + 8);
      if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ci));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    }
  } else {
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
  }
}

inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Rows of A (up to kGemmSmallM; float32, row stride lda) against 4 columns of B at a time, 8 k per
// step.
template <int M, bool BHalf>
void DotRows(const float* a, int64_t lda, const Operand& b, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc) {
  constexpr int64_t kElem = BHalf ? 2 : 4;
  const void* bd = b.data;
  const int64_t bcs = b.cs;
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    __m256 acc[M][4];
    for (int i = 0; i < M; i++)
      for (int u = 0; u < 4; u++) acc[i][u] = _mm256_setzero_ps();
    // The columns two steps ahead are prefetched, as in the int8 GEMV (igemm_avx512.cc): a decode
    // step's logits stream the embedding from memory in rows too short for the hardware prefetcher.
    const bool prefetch = j + 12 <= j1;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
      if (prefetch && (p & 15) == 0) {
        for (int u = 0; u < 4; u++) _mm_prefetch(static_cast<const char*>(bd) + (p + (j + 8 + u) * bcs) * kElem, _MM_HINT_T0);
      }
      __m256 av[M];
      for (int i = 0; i < M; i++) av[i] = _mm256_loadu_ps(a + i * lda + p);
      for (int u = 0; u < 4; u++) {
        const __m256 bv = LoadB8<BHalf>(bd, p + (j + u) * bcs);
        for (int i = 0; i < M; i++) acc[i][u] = _mm256_fmadd_ps(av[i], bv, acc[i][u]);
      }
    }
    for (int i = 0; i < M; i++)
      for (int u = 0; u < 4; u++) {
        float s = Hsum(acc[i][u]);
        for (int64_t q = p; q < k; q++) s += a[i * lda + q] * LoadB<BHalf>(bd, q + (j + u) * bcs);
        c[i * ldc + j + u] = s;
      }
  }
  for (; j < j1; j++) {
    for (int i = 0; i < M; i++) {
      __m256 acc = _mm256_setzero_ps();
      int64_t p = 0;
      for (; p + 8 <= k; p += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * lda + p), LoadB8<BHalf>(bd, p + j * bcs), acc);
      float s = Hsum(acc);
      for (; p < k; p++) s += a[i * lda + p] * LoadB<BHalf>(bd, p + j * bcs);
      c[i * ldc + j] = s;
    }
  }
}

template <bool BHalf>
void DotRowsOf(int64_t m, const float* a, int64_t lda, const Operand& b, int64_t k, int64_t j0, int64_t j1, float* c,
               int64_t ldc) {
  for (int64_t i = 0; i < m;) {
    const float* ai = a + i * lda;
    float* ci = c + i * ldc;
    const int64_t left = m - i;
    if (left >= 4) { DotRows<4, BHalf>(ai, lda, b, k, j0, j1, ci, ldc); i += 4; }
    else if (left == 3) { DotRows<3, BHalf>(ai, lda, b, k, j0, j1, ci, ldc); i += 3; }
    else if (left == 2) { DotRows<2, BHalf>(ai, lda, b, k, j0, j1, ci, ldc); i += 2; }
    else { DotRows<1, BHalf>(ai, lda, b, k, j0, j1, ci, ldc); i += 1; }
  }
}

thread_local std::vector<float> t_small_a;

void SmallDot(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc) {
  // The few rows of A in float32 once, not once per group of columns.
  const float* af = static_cast<const float*>(a.data);
  int64_t lda = a.rs;
  if (a.half) {
    t_small_a.resize(m * k);
    for (int64_t i = 0; i < m; i++) HalfToFloatNAvx2(static_cast<const uint16_t*>(a.data) + i * a.rs, t_small_a.data() + i * k, k);
    af = t_small_a.data();
    lda = k;
  }
  if (b.half) DotRowsOf<true>(m, af, lda, b, k, j0, j1, c, ldc);
  else DotRowsOf<false>(m, af, lda, b, k, j0, j1, c, ldc);
}

// c[i, j0..j1] = sum_p a[i, p] · b[p, j0..j1], 8 columns at a time.
void SmallAxpy(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    float* ci = c + i * ldc;
    for (int64_t j = j0; j < j1; j++) ci[j] = 0.f;
    for (int64_t p = 0; p < k; p++) {
      const float avs = Load(a, i * a.rs + p);
      const __m256 av = _mm256_set1_ps(avs);
      int64_t j = j0;
      for (; j + 8 <= j1; j += 8) _mm256_storeu_ps(ci + j, _mm256_fmadd_ps(av, Load8(b, p * b.rs + j), _mm256_loadu_ps(ci + j)));
      for (; j < j1; j++) ci[j] += avs * Load(b, p * b.rs + j);
    }
  }
}

}  // namespace

const GemmKernels kGemmAvx2 = {PackA, PackB, Kernel, SmallDot, SmallAxpy};

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

const GemmKernels kGemmAvx2 = {nullptr, nullptr, nullptr, nullptr, nullptr};

}  // namespace cpu
}  // namespace bminf

#endif
