// The AVX-512 VNNI int8 GEMMs. vpdpbusd adds 4 products of unsigned x signed bytes into each int32
// lane, without saturation (int32 wraps). Both operands here are signed, so the one taken as unsigned
// (B, the weights) is offset by 128 (b ^ 0x80 as a byte is b + 128 as uint8), which adds
// 128 · sum_k a[i, k] to every C[i, j]; that sum is computed once per row of A and subtracted. The
// arithmetic is modulo 2³² throughout and the true result fits in int32, so C is exact.
// - The row kernel (one row of A, a decode step of one sequence, by a B of kIgemmRowMinBytes or
//   more, which the step streams from DRAM): dot products along the whole of k straight from the
//   operands, one row of B after another, in address order.
// - The block kernel (up to 4 rows; one row by a smaller B): dot products along k straight from the
//   operands, 64 bytes at a time (masked loads for the tail); tiles of up to 4 rows of A by 4 rows
//   of B. On a B in cache it beats the row kernel (one load of A serves 4 rows of B: about 15 %
//   faster over tiny-cpm1's weights); the row kernel's way with 2 to 4 rows of A per row of B
//   measured no faster from DRAM at 2 rows, and slower at 3 and 4.
// - The packed kernel (more rows): A packed in groups of 4 k as int32, B likewise and offset, then a
//   12 x 32 register tile (24 accumulators) with one broadcast group of A per row.
// (Compiled with the AVX-512 F/BW/VL/DQ/VNNI flags; only called when the CPU has them.)
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "cpu/gemm_kernels.h"
#include "cpu/igemm_vnni.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

// The mask of the first `count` bytes of a 64-byte vector (count in [0, 64]).
inline __mmask64 Bytes(int64_t count) { return count >= 64 ? ~__mmask64(0) : (__mmask64(1) << count) - 1; }

// The 16 lanes of each of s0..s3 summed: {sum s0, sum s1, sum s2, sum s3}.
inline __m128i Hsum4(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
  auto half = [](__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); };
  __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(half(s0), half(s1)), _mm256_hadd_epi32(half(s2), half(s3)));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

// C[0..MR, 0..NR] = or += A · Bᵀ over k; corr[i] = 128 · sum_k a[i, k]. `next`, when not null, is
// the B of the tile after next: its rows are prefetched two tiles ahead. (A decode step streams the
// weights from memory in short rows, a few KiB each, too short for the hardware prefetcher to get
// ahead of; measured 10-80 % more GB/s on a 1-row GEMV over 50 MB of weights, on a busy machine.)
template <int MR, int NR>
void Tile(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t k,
          const int32_t* corr, bool accumulate, const int8_t* next) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_si512();
  // full: 64 bytes; else the first k - p (masked loads: past k, a = 0, so whatever b is adds nothing).
  auto step = [&](int64_t p, bool full) {
    const __mmask64 mask = full ? ~__mmask64(0) : Bytes(k - p);
    auto load = [&](const int8_t* q) { return full ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi8(mask, q); };
    if (next) {
      for (int j = 0; j < NR; j++) _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + p), _MM_HINT_T0);
    }
    __m512i av[MR];
    for (int i = 0; i < MR; i++) av[i] = load(a + i * lda + p);
    for (int j = 0; j < NR; j++) {
      const __m512i bv = _mm512_xor_si512(load(b + j * ldb + p), flip);
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], bv, av[i]);
    }
  };
  int64_t p = 0;
  for (; p + 64 <= k; p += 64) step(p, true);
  if (p < k) step(p, false);
  for (int i = 0; i < MR; i++) {
    for (int j0 = 0; j0 < NR; j0 += 4) {
      const __m512i z = _mm512_setzero_si512();
      __m128i s = Hsum4(acc[i][j0], j0 + 1 < NR ? acc[i][j0 + 1] : z, j0 + 2 < NR ? acc[i][j0 + 2] : z,
                        j0 + 3 < NR ? acc[i][j0 + 3] : z);
      s = _mm_sub_epi32(s, _mm_set1_epi32(corr[i]));
      int32_t* ci = c + i * ldc + j0;
      const __mmask8 lanes = static_cast<__mmask8>((1u << (NR - j0 < 4 ? NR - j0 : 4)) - 1);
      if (accumulate) s = _mm_add_epi32(s, _mm_maskz_loadu_epi32(lanes, ci));
      _mm_mask_storeu_epi32(ci, lanes, s);
    }
  }
}

// Tiles of MR rows of A by 4 rows of B (then single rows): MR x 4 accumulators and MR A vectors fit
// the 32 registers. (8 rows of B per tile for a single row of A measured no better.)
template <int MR>
void Tiles(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t n, int64_t k,
           const int32_t* corr, bool accumulate) {
  constexpr int kNr = 4;
  int64_t j = 0;
  for (; j + kNr <= n; j += kNr) {
    const int8_t* next = j + 3 * kNr <= n ? b + (j + 2 * kNr) * ldb : nullptr;
    Tile<MR, kNr>(a, lda, b + j * ldb, ldb, c + j, ldc, k, corr, accumulate, next);
  }
  for (; j < n; j++) Tile<MR, 1>(a, lda, b + j * ldb, ldb, c + j, ldc, k, corr, accumulate, nullptr);
}

}  // namespace

void IgemmBlockAvx512(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                      int64_t n, int64_t k, bool accumulate) {
  // Rows of A outermost: up to 4 A rows stay in L1 while the block of B (<= 128 x 2048 bytes)
  // streams from L2.
  for (int64_t i = 0; i < m; i += 4) {
    const int mr = static_cast<int>(m - i < 4 ? m - i : 4);
    int32_t corr[4];
    for (int r = 0; r < mr; r++) corr[r] = 128 * vnni::RowSum(a + (i + r) * lda, k);
    const int8_t* ai = a + i * lda;
    int32_t* ci = c + i * ldc;
    switch (mr) {
      case 4: Tiles<4>(ai, lda, b, ldb, ci, ldc, n, k, corr, accumulate); break;
      case 3: Tiles<3>(ai, lda, b, ldb, ci, ldc, n, k, corr, accumulate); break;
      case 2: Tiles<2>(ai, lda, b, ldb, ci, ldc, n, k, corr, accumulate); break;
      default: Tiles<1>(ai, lda, b, ldb, ci, ldc, n, k, corr, accumulate); break;
    }
  }
}

// ---- the row kernel (a decode step of one sequence: one row of A, whole k) ----------------------------

namespace {

// How far ahead of the bytes being read the weights are prefetched. A 1-row decode step is bound by
// how fast one core streams the weights from DRAM; this kernel reads them strictly in address order
// (one row of B after another, each whole), a single stream that the hardware prefetcher follows, and
// the software prefetch keeps more lines in flight beyond it. Measured on this repository's 2-vCPU
// EPYC, a 1-row GEMV over the 85 MiB of int8 weights of a d-1280, 4-layer CPM-1 (its head included),
// one thread: in C, 2.0 ms with 8 KiB ahead (4-24 KiB all within 10 %), 2.3 ms with no prefetch,
// 2.5 ms for the block kernel (4 interleaved rows of B in 128 x 2048 blocks); through the addon's
// igemm, 2.1-2.3 ms against the block kernel's 2.7-2.8 (a plain AVX-512 read of as many bytes: 1.8-2.1 ms).
constexpr int64_t kRowAhead = 8192;

void RowKernel(const int8_t* a, const int8_t* b, int64_t ldb, int32_t* c, int64_t n, int64_t k) {
  constexpr int U = 4;  // independent accumulators along k: enough to hide vpdpbusd's latency
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int32_t corr = 128 * vnni::RowSum(a, k);
  // Prefetches stop at the last byte this call reads (addresses compared as integers: no pointer is
  // formed past the operand).
  const uintptr_t end = reinterpret_cast<uintptr_t>(b + (n - 1) * ldb + k);
  for (int64_t j = 0; j < n; j++) {
    const int8_t* row = b + j * ldb;
    __m512i acc[U];
    for (int u = 0; u < U; u++) acc[u] = _mm512_setzero_si512();
    auto step = [&](__m512i& s, int64_t at, __mmask64 mask) {
      const __m512i bv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, row + at), flip);
      s = _mm512_dpbusd_epi32(s, bv, _mm512_maskz_loadu_epi8(mask, a + at));
    };
    // Up to the row's next 64-byte boundary first (masked), so that the loads below never straddle
    // two cache lines: split loads cost the stream a quarter to a third of its speed (measured with
    // the weights 16 bytes past a line, where large buffers from malloc start).
    int64_t p = std::min<int64_t>(k, static_cast<int64_t>((64 - (reinterpret_cast<uintptr_t>(row) & 63)) & 63));
    if (p > 0) step(acc[0], 0, Bytes(p));
    for (; p + 64 * U <= k; p += 64 * U) {
      for (int u = 0; u < U; u++) {
        const uintptr_t ahead = reinterpret_cast<uintptr_t>(row + p + 64 * u) + kRowAhead;
        if (ahead < end) _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
      }
      for (int u = 0; u < U; u++) {
        const __m512i bv = _mm512_xor_si512(_mm512_loadu_si512(row + p + 64 * u), flip);
        acc[u] = _mm512_dpbusd_epi32(acc[u], bv, _mm512_loadu_si512(a + p + 64 * u));
      }
    }
    // The rest: up to 3 whole 64-byte steps, each into its own accumulator (through one chain, a
    // short row was all latency), then a masked one (past k, a = 0: whatever b is adds nothing).
    const __mmask64 all = ~__mmask64(0);
    if (p + 64 <= k) step(acc[1], p, all), p += 64;
    if (p + 64 <= k) step(acc[2], p, all), p += 64;
    if (p + 64 <= k) step(acc[3], p, all), p += 64;
    if (p < k) step(acc[0], p, Bytes(k - p));
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3]));
    c[j] = _mm512_reduce_add_epi32(sum) - corr;
  }
}

}  // namespace

void IgemmRowAvx512(const int8_t* a, const int8_t* b, int64_t ldb, int32_t* c, int64_t n, int64_t k) {
  if (n > 0) RowKernel(a, b, ldb, c, n, k);
}

// ---- the packed kernel (more than a few rows) ------------------------------------------------------

namespace {

constexpr int kMr = 12;
constexpr int kNr = 32;

void Kernel(int64_t groups, const void* a_sliver, const void* b_sliver, const int32_t* corr, int32_t* c, int64_t ldc,
            int mr, int nr, bool accumulate) {
  const int32_t* ap = static_cast<const int32_t*>(a_sliver);
  const int32_t* bp = static_cast<const int32_t*>(b_sliver);
  __m512i acc[kMr][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; g++) {
    const __m512i b0 = _mm512_loadu_si512(bp);
    const __m512i b1 = _mm512_loadu_si512(bp + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMr; i++) {
      const __m512i av = _mm512_set1_epi32(ap[i]);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], b0, av);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], b1, av);
    }
    ap += kMr;
    bp += kNr;
  }
  const __mmask16 m0 = static_cast<__mmask16>(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
#pragma GCC unroll 12
  for (int i = 0; i < kMr; i++) {
    if (i >= mr) break;
    int32_t* ci = c + i * ldc;
    const __m512i k = _mm512_set1_epi32(corr[i]);
    __m512i v0 = _mm512_sub_epi32(acc[i][0], k), v1 = _mm512_sub_epi32(acc[i][1], k);
    if (accumulate) {
      v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(m0, ci));
      v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(m1, ci + 16));
    }
    _mm512_mask_storeu_epi32(ci, m0, v0);
    _mm512_mask_storeu_epi32(ci + 16, m1, v1);
  }
}

}  // namespace

const IgemmPackedKernels kIgemmPackedAvx512 = {kMr, kNr, 4, 1, vnni::PackA<kMr>, vnni::PackB<kNr>, Kernel};

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: these are never called (the AVX-512 path is never chosen) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void IgemmBlockAvx512(const int8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t, int64_t, int64_t, int64_t, bool) {
  std::abort();
}
void IgemmRowAvx512(const int8_t*, const int8_t*, int64_t, int32_t*, int64_t, int64_t) { std::abort(); }
const IgemmPackedKernels kIgemmPackedAvx512 = {12, 32, 4, 1, nullptr, nullptr, nullptr};

}  // namespace cpu
}  // namespace bminf

#endif
