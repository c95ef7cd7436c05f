// The AVX2 int8 GEMMs. Both multiply int8 values sign-extended to int16 with vpmaddwd, which adds
// pairs of products into int32 exactly (|a·b + c·d| <= 2·128² fits easily). Not vpmaddubsw: it
// saturates at int16, and BMInf's results must be exact.
// - The block kernel (a decode step's few rows): dot products along k straight from the operands,
//   16 elements at a time; tiles of 3 rows of A by 4 rows of B (12 accumulators, 3 A vectors and
//   1 B vector fill the 16 ymm registers).
// - The packed kernel (more rows): operands widened and packed once into k pairs, then a 6 x 16
//   register tile with one broadcast A pair per row, as the float GEMM does it.
#include <cstdlib>

#include "cpu/gemm_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

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

// ---- the packed kernel (more than a few rows) ------------------------------------------------------

namespace {

// Packs `rows` rows of x (row stride ld, k elements from x) into slivers of R rows: out[pair][r][2].
template <int R>
void PackPairs(const int8_t* x, int64_t ld, int64_t rows, int64_t kc, int16_t* out) {
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t s = 0; s < rows; s += R) {
    int32_t* o = reinterpret_cast<int32_t*>(out);  // one int32 = one (even, odd) pair of int16
    for (int r = 0; r < R; r++) {
      const int8_t* xr = x + (s + r) * ld;
      if (s + r >= rows) {
        for (int64_t q = 0; q < pairs; q++) o[q * R + r] = 0;
        continue;
      }
      int64_t p = 0;
      for (; p + 16 <= kc; p += 16) {
        alignas(32) int32_t t[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), Load16(xr + p));
        const int64_t q0 = p / 2;
        for (int u = 0; u < 8; u++) o[(q0 + u) * R + r] = t[u];
      }
      for (; p < kc; p += 2) {
        const int16_t lo = xr[p], hi = p + 1 < kc ? xr[p + 1] : 0;
        o[(p / 2) * R + r] = static_cast<int32_t>(static_cast<uint16_t>(lo) | static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
      }
    }
    out += pairs * R * 2;
  }
}

constexpr int kIgemmMr = 6;
constexpr int kIgemmNr = 16;

void PackA(const int8_t* a, int64_t lda, int64_t mc, int64_t kc, void* out, int32_t*) {
  PackPairs<kIgemmMr>(a, lda, mc, kc, static_cast<int16_t*>(out));
}
void PackB(const int8_t* b, int64_t ldb, int64_t nc, int64_t kc, void* out) {
  PackPairs<kIgemmNr>(b, ldb, nc, kc, static_cast<int16_t*>(out));
}

// 6 rows x 16 columns: 12 int32 accumulators, 2 B vectors (8 columns of pairs each), 1 broadcast pair.
void Kernel(int64_t pairs, const void* a_sliver, const void* b_sliver, const int32_t*, int32_t* c, int64_t ldc, int mr,
            int nr, bool accumulate) {
  const int16_t* b = static_cast<const int16_t*>(b_sliver);
  // The C tile is touched only after the k loop: fetch its lines now (see the float kernel).
  for (int i = 0; i < mr; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kIgemmNr - 1), _MM_HINT_T0);
  }
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const int32_t* ap = static_cast<const int32_t*>(a_sliver);
  for (int64_t q = 0; q < pairs; q++) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    __m256i av;
    av = _mm256_set1_epi32(ap[0]);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(av, b0)); c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(av, b1));
    av = _mm256_set1_epi32(ap[1]);
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(av, b0)); c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(av, b1));
    av = _mm256_set1_epi32(ap[2]);
    c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(av, b0)); c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(av, b1));
    av = _mm256_set1_epi32(ap[3]);
    c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(av, b0)); c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(av, b1));
    av = _mm256_set1_epi32(ap[4]);
    c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(av, b0)); c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(av, b1));
    av = _mm256_set1_epi32(ap[5]);
    c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(av, b0)); c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(av, b1));
    ap += kIgemmMr;
    b += kIgemmNr * 2;
  }
  alignas(32) int32_t t[kIgemmMr][kIgemmNr];
  auto st = [](int32_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); };
  st(t[0], c00); st(t[0] + 8, c01); st(t[1], c10); st(t[1] + 8, c11); st(t[2], c20); st(t[2] + 8, c21);
  st(t[3], c30); st(t[3] + 8, c31); st(t[4], c40); st(t[4] + 8, c41); st(t[5], c50); st(t[5] + 8, c51);
  if (nr == kIgemmNr) {
    for (int i = 0; i < mr; i++) {
      int32_t* ci = c + i * ldc;
      __m256i v0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t[i]));
      __m256i v1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(t[i] + 8));
      if (accumulate) {
        v0 = _mm256_add_epi32(v0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci)));
        v1 = _mm256_add_epi32(v1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ci + 8)));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ci), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ci + 8), v1);
    }
  } else {
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
  }
}

}  // namespace

const IgemmPackedKernels kIgemmPackedAvx2 = {kIgemmMr, kIgemmNr, 2, 2, PackA, PackB, Kernel};

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void IgemmBlockAvx2(const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t, int64_t, int64_t, int64_t, bool) {
  std::abort();
}
const IgemmPackedKernels kIgemmPackedAvx2 = {6, 16, 2, 2, nullptr, nullptr, nullptr};

}  // namespace cpu
}  // namespace bminf

#endif
