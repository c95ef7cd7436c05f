// Batched float GEMM with float32 accumulation: out[b] = alpha · op(A[b]) · op(B[b]), float16 or
// float32 storage. The classic blocked loop nest (BLIS): for each block of nc columns, for each kc
// slice of k, op(B) is packed once; for each block of mc rows, op(A) is packed and the micro-kernel
// sweeps the block.
#include <algorithm>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/gemm_kernels.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

constexpr int64_t kMc = 144;   // rows of A per packed block (a multiple of kGemmMr): 144 x 256 x 4 B in L2
constexpr int64_t kKc = 256;   // k per block: a 256 x 16 sliver of B is 16 KiB, in L1
constexpr int64_t kNc = 2048;  // columns of B per packed block (a multiple of kGemmNr): 2 MiB, in L3

struct Problem {
  const GemmKernels* kernels;
  Operand a, b;  // op(A) and op(B) of batch 0
  int64_t strideA, strideB;
  Array out;
  int64_t outOffset;
  int64_t m, n, k;
  float alpha;
  bool small;  // few rows, run by the unpacked kernels
  bool wide;   // two B slivers per micro-kernel call (GemmKernelWideAvx512)
};

// Buffers of one thread, kept between calls.
struct Scratch {
  std::vector<float> a, b, c;
};
thread_local Scratch t_scratch;

// out[batch][i0 .. i1, j0 .. j1] of the problem.
void GemmTask(const Problem& P, int64_t batch, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  Scratch& s = t_scratch;
  const int64_t rows = i1 - i0, cols = j1 - j0;
  // float32 results accumulate in place; float16 ones in a float32 tile that is rounded at the end.
  const bool direct = P.out.type == ElemType::kFloat32;
  const int64_t base = P.outOffset + batch * P.m * P.n;
  float* c;
  int64_t ldc;
  if (direct) {
    c = P.out.as<float>() + base + i0 * P.n + j0;
    ldc = P.n;
  } else {
    s.c.resize(rows * cols);
    c = s.c.data();
    ldc = cols;
  }
  Operand a = P.a, b = P.b;
  a.data = static_cast<const char*>(a.data) + batch * P.strideA * (a.half ? 2 : 4);
  b.data = static_cast<const char*>(b.data) + batch * P.strideB * (b.half ? 2 : 4);
  if (P.small) {
    // Few rows: no packing (it would cost as much as the product), dot products or axpys straight
    // from the operands, shifted to the tile's first row and column.
    Operand ai = a, bj = b;
    ai.data = static_cast<const char*>(a.data) + i0 * a.rs * (a.half ? 2 : 4);
    bj.data = static_cast<const char*>(b.data) + j0 * b.cs * (b.half ? 2 : 4);
    if (b.rs == 1) P.kernels->small_dot(ai, bj, rows, P.k, 0, cols, c, ldc);
    else P.kernels->small_axpy(ai, bj, rows, P.k, 0, cols, c, ldc);
  } else if (P.k == 0) {
    for (int64_t i = 0; i < rows; i++) std::fill(c + i * ldc, c + i * ldc + cols, 0.f);
  }
  for (int64_t jc = 0; jc < cols && !P.small; jc += kNc) {
    const int64_t nc = std::min(kNc, cols - jc);
    for (int64_t pc = 0; pc < P.k; pc += kKc) {
      const int64_t kc = std::min(kKc, P.k - pc);
      s.b.resize(((nc + kGemmNr - 1) / kGemmNr) * kGemmNr * kc);
      P.kernels->pack_b(b, pc, j0 + jc, kc, nc, s.b.data());
      for (int64_t ic = 0; ic < rows; ic += kMc) {
        const int64_t mc = std::min(kMc, rows - ic);
        s.a.resize(((mc + kGemmMr - 1) / kGemmMr) * kGemmMr * kc);
        P.kernels->pack_a(a, i0 + ic, pc, mc, kc, s.a.data());
        for (int64_t jr = 0; jr < nc;) {
          // Two slivers at a time where the wide kernel runs and more than one is left.
          const bool two = P.wide && nc - jr > kGemmNr;
          const int nr = static_cast<int>(std::min<int64_t>(two ? 2 * kGemmNr : kGemmNr, nc - jr));
          const float* bp = s.b.data() + (jr / kGemmNr) * kGemmNr * kc;
          for (int64_t ir = 0; ir < mc; ir += kGemmMr) {
            const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, mc - ir));
            const float* ap = s.a.data() + (ir / kGemmMr) * kGemmMr * kc;
            float* cp = c + (ic + ir) * ldc + jc + jr;
            if (two) GemmKernelWideAvx512(kc, ap, bp, cp, ldc, mr, nr, pc > 0);
            else P.kernels->kernel(kc, ap, bp, cp, ldc, mr, nr, pc > 0);
          }
          jr += two ? 2 * kGemmNr : kGemmNr;
        }
      }
    }
  }
  if (P.alpha != 1.f) {
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) c[i * ldc + j] *= P.alpha;
  }
  if (!direct) {
    for (int64_t i = 0; i < rows; i++) StoreRow(P.out, base + (i0 + i) * P.n + j0, c + i * ldc, cols);
    // The float32 tile of a large float16 product is not worth keeping for the next call.
    if (s.c.capacity() > (size_t(1) << 22)) std::vector<float>().swap(s.c);
  }
}

}  // namespace

// gemm(a, aOffset, lda, strideA, b, bOffset, ldb, strideB, out, outOffset, batch, m, n, k, transA, transB, alpha)
// A[b] is [m, k] ([k, m] when transA) with row stride lda and batch stride strideA; B[b] is [k, n]
// ([n, k] when transB). The last dimensions have stride 1. out is packed [batch, m, n]. All three
// share one type, float16 or float32.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 17);
  Array a = args.array(0, "a", kFloatTypes);
  int64_t ao = args.integer(1, "aOffset");
  int64_t lda = args.integer(2, "lda");
  int64_t sa = args.integer(3, "strideA");
  Array b = args.array(4, "b", kFloatTypes);
  int64_t bo = args.integer(5, "bOffset");
  int64_t ldb = args.integer(6, "ldb");
  int64_t sb = args.integer(7, "strideB");
  Array out = args.array(8, "out", kFloatTypes);
  int64_t oo = args.integer(9, "outOffset");
  int64_t batch = args.integer(10, "batch", 0, int64_t(1) << 31);
  int64_t m = args.integer(11, "m", 0, int64_t(1) << 31);
  int64_t n = args.integer(12, "n", 0, int64_t(1) << 31);
  int64_t k = args.integer(13, "k", 0, int64_t(1) << 31);
  bool ta = args.boolean(14, "transA");
  bool tb = args.boolean(15, "transB");
  double alpha = args.number(16, "alpha");
  args.checkSameType(a, "a", out, "out");
  args.checkSameType(b, "b", out, "out");
  if (batch > 0 && m > 0 && n > 0 && (m * n > kMaxIndex / batch)) args.rangeError("batch * m * n is too large.");
  // The elements each operand's view spans: [batch, rows, cols] with strides [stride, ld, 1].
  args.checkView(a, "a", ao, {batch, ta ? k : m, ta ? m : k}, {sa, lda, 1});
  args.checkView(b, "b", bo, {batch, tb ? n : k, tb ? k : n}, {sb, ldb, 1});
  args.checkRange(out, "out", oo, batch * m * n);
  if (batch == 0 || m == 0 || n == 0) return info.Env().Undefined();

  return Launch(args, [=] {
    const bool half = a.type == ElemType::kFloat16;
    Problem P;
    P.kernels = UseAvx2() ? &kGemmAvx2 : &kGemmPlain;
    P.wide = ActiveIsa() == Isa::kAvx512;
    P.a = {static_cast<const char*>(a.data) + ao * (half ? 2 : 4), half, ta ? 1 : lda, ta ? lda : 1};
    P.b = {static_cast<const char*>(b.data) + bo * (half ? 2 : 4), half, tb ? 1 : ldb, tb ? ldb : 1};
    P.strideA = sa;
    P.strideB = sb;
    P.out = out;
    P.outOffset = oo;
    P.m = m;
    P.n = n;
    P.k = k;
    P.alpha = static_cast<float>(alpha);
    // The unpacked kernels need op(A)'s rows along k and op(B) unit-strided along k (dot) or n (axpy).
    P.small = m <= kGemmSmallM && k > 0 && P.a.cs == 1 && (P.b.rs == 1 || P.b.cs == 1);

    // Tasks: whole batches when there are enough of them, else each batch split along its longer side
    // into pieces of whole micro-tiles.
    const int64_t threads = NumThreads();
    // Work in packed-kernel multiply-adds: the unpacked kernels (one row against a weight, memory-bound)
    // do about a quarter as many per cycle, so their problems are worth threads four times sooner.
    const double work = double(batch) * m * n * (k + 1) * (P.small ? 4 : 1);
    int64_t pieces = 1;
    if (work > kGrainMacs && batch < threads) pieces = (threads + batch - 1) / batch;
    const bool splitN = n >= m || P.small;
    const int64_t unit = splitN ? kGemmNr : kGemmMr;
    const int64_t span = splitN ? n : m;
    int64_t per = (span + pieces - 1) / pieces;
    per = (per + unit - 1) / unit * unit;
    pieces = (span + per - 1) / per;
    const int64_t tasks = batch * pieces;
    auto run = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        int64_t bi = t / pieces, piece = t % pieces;
        int64_t lo = piece * per, hi = std::min(span, lo + per);
        if (splitN) GemmTask(P, bi, 0, m, lo, hi);
        else GemmTask(P, bi, lo, hi, 0, n);
      }
    };
    // Small problems (attention over a short context) run as few tasks per thread as keep each one
    // worth a wake-up.
    ParallelFor(tasks, std::max<int64_t>(1, static_cast<int64_t>(kGrainMacs / (work / tasks + 1))), run);
  });
}

}  // namespace cpu
}  // namespace bminf
