// The inner kernels of the two GEMMs, in a plain C++ version (gemm_plain.cc), an AVX2 one
// (gemm_avx2.cc, igemm_avx2.cc) and, for int8, VNNI ones (igemm_avxvnni.cc, igemm_avx512.cc). The drivers (igemm.cc, gemm.cc) do the argument checks, the
// threading and the cache blocking, and call these through pointers chosen at run time.
#pragma once
#include <cstdint>

namespace bminf {
namespace cpu {

// C[m, n] (ldc) = or += A[m, k] (lda) · B[n, k]ᵀ (ldb), int8 x int8 -> int32, for a block that fits
// in cache (k <= kIgemmKc, n <= kIgemmNc).
using IgemmBlockFn = void (*)(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc,
                              int64_t m, int64_t n, int64_t k, bool accumulate);
void IgemmBlockPlain(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                     int64_t n, int64_t k, bool accumulate);
void IgemmBlockAvx2(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                    int64_t n, int64_t k, bool accumulate);
constexpr int64_t kIgemmKc = 2048;
constexpr int64_t kIgemmNc = 128;

void IgemmBlockAvxVnni(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                       int64_t n, int64_t k, bool accumulate);
void IgemmBlockAvx512(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                      int64_t n, int64_t k, bool accumulate);
// c[0, n) = a[0, k) · B[n, k]ᵀ (ldb): one row of A (a decode step of one sequence) over the whole of
// k, reading B once in address order with a software prefetch ahead (igemm_avx512.cc). For a B of
// kIgemmRowMinBytes or more: larger than the L2 of current x86 cores (1-2 MiB), so a decode step
// reads it from DRAM unless the whole model fits in the L3 (a smaller B goes to the block kernel,
// faster on data in cache).
void IgemmRowAvx512(const int8_t* a, const int8_t* b, int64_t ldb, int32_t* c, int64_t n, int64_t k);
constexpr int64_t kIgemmRowMinBytes = int64_t(4) << 20;

// The packed int8 GEMM (for more than a few rows): operands packed once per cache block into slivers
// of `mr` rows of A and `nr` rows of B (columns of C), in groups of `kstep` consecutive k, then a
// register tile multiplies one sliver pair.
// - AVX2: int8 widened to int16, kstep 2 (one vpmaddwd multiplies a broadcast pair of A by the pairs
//   of 8 columns of B). row_sums unused.
// - AVX-VNNI and AVX-512 VNNI: int8 kept, kstep 4 (one vpdpbusd adds 4 products per int32 lane). vpdpbusd takes
//   one operand unsigned, so B is packed as b + 128 (as uint8) and the kernel subtracts
//   128 · sum_k a[i, k] per row, exactly (int32 arithmetic wraps, and the true result fits).
// A slivers: [group][row][kstep], B slivers: [group][col][kstep], zero-padded.
struct IgemmPackedKernels {
  int mr, nr, kstep, elem_bytes;
  // Packs rows [0, mc) x k [0, kc) of a (row stride lda) into ceil(mc / mr) slivers; row_sums[i] =
  // sum_k a[i, k] over the block when the kernel needs it.
  void (*pack_a)(const int8_t* a, int64_t lda, int64_t mc, int64_t kc, void* out, int32_t* row_sums);
  // Packs rows [0, nc) of b (the columns of C) x k [0, kc) into ceil(nc / nr) slivers.
  void (*pack_b)(const int8_t* b, int64_t ldb, int64_t nc, int64_t kc, void* out);
  // c[0..mr, 0..nr] (ldc) = or += a-sliver · b-sliver over `groups` k groups.
  void (*kernel)(int64_t groups, const void* a, const void* b, const int32_t* row_sums, int32_t* c, int64_t ldc,
                 int mr, int nr, bool accumulate);
};
extern const IgemmPackedKernels kIgemmPackedAvx2;
extern const IgemmPackedKernels kIgemmPackedAvxVnni;
extern const IgemmPackedKernels kIgemmPackedAvx512;

// Float GEMM, packed (BLIS style): panels of op(A) in slivers of kGemmMr rows and of op(B) in slivers
// of kGemmNr columns, float32, zero-padded; a micro-kernel multiplies one sliver pair.
constexpr int kGemmMr = 6;
constexpr int kGemmNr = 16;

// Where op(X)[r, c] lives: x + r * rs + c * cs, float16 bits or float32.
struct Operand {
  const void* data;
  bool half;
  int64_t rs, cs;
};

struct GemmKernels {
  // Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into mc/kGemmMr slivers (rounded up), each kc x kGemmMr.
  void (*pack_a)(const Operand& a, int64_t i0, int64_t p0, int64_t mc, int64_t kc, float* out);
  // Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into nc/kGemmNr slivers (rounded up), each kc x kGemmNr.
  void (*pack_b)(const Operand& b, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out);
  // c[0..mr, 0..nr] (ldc) = or += a-sliver · b-sliver over kc.
  void (*kernel)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, bool accumulate);
  // A few rows (a decode step), unpacked, for columns [j0, j1) of c [m, ldc]: c = op(A) · op(B) where
  // rows of op(A) run along k (a.cs == 1) and either
  // dot:  op(B)'s columns run along k (b.rs == 1: a transposed weight or the keys of attention), or
  // axpy: op(B)'s rows run along n (b.cs == 1: the values of attention).
  void (*small_dot)(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc);
  void (*small_axpy)(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc);
};
// The AVX-512 path's micro-kernel over two adjacent B slivers (the second kc x kGemmNr after the first):
// c[0..mr, 0..nr] (ldc) = or += a-sliver · [b-sliver, next b-sliver], for 16 < nr <= 2 · kGemmNr
// (gemm_avx512.cc); the same sums, bit for bit, as two calls of the AVX2 kernel.
void GemmKernelWideAvx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                          bool accumulate);

// The most rows the small kernels take.
constexpr int64_t kGemmSmallM = 4;
extern const GemmKernels kGemmPlain;
extern const GemmKernels kGemmAvx2;

}  // namespace cpu
}  // namespace bminf
