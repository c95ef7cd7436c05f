// The AVX2 int8 GEMM block: dot products along k, 16 elements at a time, sign-extended to int16
// (vpmovsxbw) and multiplied with vpmaddwd, which adds pairs of products into int32 exactly
// (|a·b + c·d| <= 2·128² fits easily). Not vpmaddubsw: it saturates at int16, and BMInf's results
// must be exact. Tiles of 3 rows of A by 4 rows of B: 12 accumulators, 3 A vectors and 1 B vector
// fill the 16 ymm registers.
#include <immintrin.h>

#include "cpu/gemm_kernels.h"

namespace bminf {
namespace cpu {

namespace {

inline __m256i Load16(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// The 8 lanes of each of s0..s3 summed: {sum s0, sum s1, sum s2, sum s3}.
inline __m128i Hsum4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
  __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

template <int MR, int NR>
void Tile(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t k,
          bool accumulate) {
  __m256i acc[MR][4];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_si256();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    __m256i av[MR];
    for (int i = 0; i < MR; i++) av[i] = Load16(a + i * lda + p);
    for (int j = 0; j < NR; j++) {
      __m256i bv = Load16(b + j * ldb + p);
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av[i], bv));
    }
  }
  for (int i = 0; i < MR; i++) {
    alignas(16) int32_t sums[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(sums), Hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    for (int j = 0; j < NR; j++) {
      int32_t s = sums[j];
      for (int64_t q = p; q < k; q++) s += int32_t(a[i * lda + q]) * int32_t(b[j * ldb + q]);
      if (accumulate) c[i * ldc + j] += s;
      else c[i * ldc + j] = s;
    }
  }
}

template <int MR>
void TileN(int nr, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t k,
           bool accumulate) {
  switch (nr) {
    case 4: return Tile<MR, 4>(a, lda, b, ldb, c, ldc, k, accumulate);
    case 3: return Tile<MR, 3>(a, lda, b, ldb, c, ldc, k, accumulate);
    case 2: return Tile<MR, 2>(a, lda, b, ldb, c, ldc, k, accumulate);
    default: return Tile<MR, 1>(a, lda, b, ldb, c, ldc, k, accumulate);
  }
}

}  // namespace

void IgemmBlockAvx2(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                    int64_t n, int64_t k, bool accumulate) {
  // Rows of A outermost: the 3 A rows stay in L1 while the block of B (<= 128 x 2048 bytes) streams
  // from L2.
  for (int64_t i = 0; i < m; i += 3) {
    int64_t mr = m - i < 3 ? m - i : 3;
    for (int64_t j = 0; j < n; j += 4) {
      int nr = static_cast<int>(n - j < 4 ? n - j : 4);
      const int8_t* ai = a + i * lda;
      const int8_t* bj = b + j * ldb;
      int32_t* cij = c + i * ldc + j;
      if (mr == 3) TileN<3>(nr, ai, lda, bj, ldb, cij, ldc, k, accumulate);
      else if (mr == 2) TileN<2>(nr, ai, lda, bj, ldb, cij, ldc, k, accumulate);
      else TileN<1>(nr, ai, lda, bj, ldb, cij, ldc, k, accumulate);
    }
  }
}

}  // namespace cpu
}  // namespace bminf
