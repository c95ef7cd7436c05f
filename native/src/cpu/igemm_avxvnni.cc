// The AVX-VNNI int8 GEMMs: igemm_avx512.cc's kernels on 256-bit vectors (vpdpbusd with the VEX
// encoding, for CPUs with AVX-VNNI but not AVX-512), with the same +128 offset of B undone by
// 128 · sum_k a[i, k] per row, exactly (see there). No masked loads at this width: the block kernel
// takes k in 32-byte steps and the last k % 32 in scalar code, outside the offset.
// - The block kernel: tiles of up to 2 rows of A by 4 rows of B (8 accumulators, 2 A vectors, 1 B
//   vector and the offset constant in the 16 ymm registers), B prefetched two tiles ahead.
// - The packed kernel: a 6 x 16 register tile (12 accumulators), as the AVX2 int16 one.
// (Compiled with -mavx2 -mavxvnni; only called on the AVX-VNNI path.)
#include <cstdlib>

#include "cpu/gemm_kernels.h"
#include "cpu/igemm_vnni.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

// The 8 lanes of each of s0..s3 summed: {sum s0, sum s1, sum s2, sum s3}.
inline __m128i Hsum4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
  __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// C[0..MR, 0..NR] = or += A · Bᵀ over k; kv = k rounded down to 32 (the vector part), corr[i] =
// 128 · sum_{k < kv} a[i, k]; `next` as in igemm_avx512.cc.
template <int MR, int NR>
void Tile(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t k, int64_t kv,
          const int32_t* corr, bool accumulate, const int8_t* next) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i acc[MR][4];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_si256();
  for (int64_t p = 0; p < kv; p += 32) {
    if (next && (p & 63) == 0) {
      for (int j = 0; j < NR; j++) _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + p), _MM_HINT_T0);
    }
    __m256i av[MR];
    for (int i = 0; i < MR; i++) av[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i * lda + p));
    for (int j = 0; j < NR; j++) {
      const __m256i bv = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j * ldb + p)), flip);
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_dpbusd_avx_epi32(acc[i][j], bv, av[i]);
    }
  }
  for (int i = 0; i < MR; i++) {
    alignas(16) int32_t sums[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(sums), Hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    for (int j = 0; j < NR; j++) {
      int32_t s = sums[j] - corr[i];
      for (int64_t q = kv; q < k; q++) s += int32_t(a[i * lda + q]) * int32_t(b[j * ldb + q]);
      if (accumulate) c[i * ldc + j] += s;
      else c[i * ldc + j] = s;
    }
  }
}

template <int MR>
void Tiles(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t n, int64_t k,
           int64_t kv, const int32_t* corr, bool accumulate) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const int8_t* next = j + 12 <= n ? b + (j + 8) * ldb : nullptr;
    Tile<MR, 4>(a, lda, b + j * ldb, ldb, c + j, ldc, k, kv, corr, accumulate, next);
  }
  for (; j < n; j++) Tile<MR, 1>(a, lda, b + j * ldb, ldb, c + j, ldc, k, kv, corr, accumulate, nullptr);
}

}  // namespace

void IgemmBlockAvxVnni(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                       int64_t n, int64_t k, bool accumulate) {
  const int64_t kv = k / 32 * 32;
  for (int64_t i = 0; i < m; i += 2) {
    int32_t corr[2] = {128 * vnni::RowSum(a + i * lda, kv), 0};
    if (m - i >= 2) {
      corr[1] = 128 * vnni::RowSum(a + (i + 1) * lda, kv);
      Tiles<2>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, n, k, kv, corr, accumulate);
    } else {
      Tiles<1>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, n, k, kv, corr, accumulate);
    }
  }
}

// ---- the packed kernel (more than a few rows) ------------------------------------------------------

namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

void Kernel(int64_t groups, const void* a_sliver, const void* b_sliver, const int32_t* corr, int32_t* c, int64_t ldc,
            int mr, int nr, bool accumulate) {
  const int32_t* ap = static_cast<const int32_t*>(a_sliver);
  const int32_t* bp = static_cast<const int32_t*>(b_sliver);
  __m256i acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < groups; g++) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
#pragma GCC unroll 6
    for (int i = 0; i < kMr; i++) {
      const __m256i av = _mm256_set1_epi32(ap[i]);
      acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], b0, av);
      acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], b1, av);
    }
    ap += kMr;
    bp += kNr;
  }
  alignas(32) int32_t t[kMr][kNr];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; i++) {
    const __m256i k = _mm256_set1_epi32(corr[i]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(t[i]), _mm256_sub_epi32(acc[i][0], k));
    _mm256_store_si256(reinterpret_cast<__m256i*>(t[i] + 8), _mm256_sub_epi32(acc[i][1], k));
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
}

}  // namespace

const IgemmPackedKernels kIgemmPackedAvxVnni = {kMr, kNr, 4, 1, vnni::PackA<kMr>, vnni::PackB<kNr>, Kernel};

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (the AVX-VNNI path is never chosen) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void IgemmBlockAvxVnni(const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t, int64_t, int64_t, int64_t, bool) {
  std::abort();
}
const IgemmPackedKernels kIgemmPackedAvxVnni = {6, 16, 4, 1, nullptr, nullptr, nullptr};

}  // namespace cpu
}  // namespace bminf

#endif
