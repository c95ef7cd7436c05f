// The int8 GEMM of BMInf's linear layers: C[m, n] = A[m, k] · B[n, k]ᵀ, int32, exact.
#include <algorithm>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/gemm_kernels.h"
#include "cpu/linear_parts.h"
#include "cpu/ops.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

// Runs rows [i0, i1) x columns [j0, j1) of C in cache-sized blocks: kIgemmNc rows of B by kIgemmKc
// along k (128 x 2048 bytes, L2-resident) against all the task's rows of A.
void IgemmRange(IgemmBlockFn block, const int8_t* a, const int8_t* b, int32_t* c, int64_t n, int64_t k, int64_t i0,
                int64_t i1, int64_t j0, int64_t j1) {
  for (int64_t jc = j0; jc < j1; jc += kIgemmNc) {
    int64_t nc = std::min(kIgemmNc, j1 - jc);
    for (int64_t pc = 0; pc < k; pc += kIgemmKc) {
      int64_t kc = std::min(kIgemmKc, k - pc);
      block(a + i0 * k + pc, k, b + jc * k + pc, k, c + i0 * n + jc, n, i1 - i0, nc, kc, pc > 0);
    }
  }
}

// The packed path's blocking: a 16 x 512 sliver of B (int16) is 16 KiB, in L1; a 144 x 512 block
// of A is 144 KiB (int16; half that as int8), in L2; a 2048 x 512 panel of B is 2 MiB, in L3.
constexpr int64_t kMc = 144;  // a multiple of every kernel's mr
constexpr int64_t kKc = 512;  // a multiple of every kernel's kstep
constexpr int64_t kNc = 2048;

struct PackScratch {
  std::vector<int8_t> a, b;
  std::vector<int32_t> row_sums;
};
thread_local PackScratch t_pack;

// Rows [i0, i1) x columns [j0, j1) of C with the packed kernels (see gemm.cc for the loop nest).
void IgemmPackedRange(const IgemmPackedKernels& K, const int8_t* a, const int8_t* b, int32_t* c, int64_t n, int64_t k,
                      int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  PackScratch& s = t_pack;
  s.row_sums.resize(kMc + K.mr);
  for (int64_t jc = j0; jc < j1; jc += kNc) {
    const int64_t nc = std::min(kNc, j1 - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc);
      const int64_t groups = (kc + K.kstep - 1) / K.kstep;
      const int64_t group_bytes = int64_t(K.kstep) * K.elem_bytes;  // one row's share of a group
      s.b.resize(((nc + K.nr - 1) / K.nr) * K.nr * groups * group_bytes);
      K.pack_b(b + jc * k + pc, k, nc, kc, s.b.data());
      for (int64_t ic = i0; ic < i1; ic += kMc) {
        const int64_t mc = std::min(kMc, i1 - ic);
        s.a.resize(((mc + K.mr - 1) / K.mr) * K.mr * groups * group_bytes);
        K.pack_a(a + ic * k + pc, k, mc, kc, s.a.data(), s.row_sums.data());
        for (int64_t jr = 0; jr < nc; jr += K.nr) {
          const int nr = static_cast<int>(std::min<int64_t>(K.nr, nc - jr));
          const int8_t* bp = s.b.data() + jr * groups * group_bytes;
          for (int64_t ir = 0; ir < mc; ir += K.mr) {
            const int mr = static_cast<int>(std::min<int64_t>(K.mr, mc - ir));
            const int8_t* ap = s.a.data() + ir * groups * group_bytes;
            K.kernel(groups, ap, bp, s.row_sums.data() + ir, c + (ic + ir) * n + jc + jr, n, mr, nr, pc > 0);
          }
        }
      }
    }
  }
}

// span / threads, rounded up.
int64_t PerThread(int64_t span) {
  const int64_t t = NumThreads();
  return (span + t - 1) / t;
}

}  // namespace

void IgemmRun(const int8_t* ap, const int8_t* bp, int32_t* cp, int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(cp, cp + m * n, 0);
    return;
  }
  const Isa isa = ActiveIsa();
  IgemmBlockFn block = isa == Isa::kAvx512   ? IgemmBlockAvx512
                       : isa == Isa::kAvxVnni ? IgemmBlockAvxVnni
                       : isa == Isa::kAvx2    ? IgemmBlockAvx2
                                              : IgemmBlockPlain;
  const double work = double(m) * double(n) * double(k);
  if (isa != Isa::kPlain && m > 4) {
    // Enough rows to repay packing: the packed kernel, threads over the longer side.
    const IgemmPackedKernels& K = isa == Isa::kAvx512   ? kIgemmPackedAvx512
                                  : isa == Isa::kAvxVnni ? kIgemmPackedAvxVnni
                                                         : kIgemmPackedAvx2;
    if (work < kGrainMacs) {
      IgemmPackedRange(K, ap, bp, cp, n, k, 0, m, 0, n);
    } else if (n >= m) {
      // One range of whole slivers per thread: each range packs all of A again, so fewer ranges
      // repack less.
      const int64_t units = (n + K.nr - 1) / K.nr;
      ParallelFor(units, PerThread(units), [&](int64_t u0, int64_t u1) {
        IgemmPackedRange(K, ap, bp, cp, n, k, 0, m, u0 * K.nr, std::min(n, u1 * K.nr));
      });
    } else {
      const int64_t units = (m + K.mr - 1) / K.mr;
      ParallelFor(units, PerThread(units), [&](int64_t u0, int64_t u1) {
        IgemmPackedRange(K, ap, bp, cp, n, k, u0 * K.mr, std::min(m, u1 * K.mr), 0, n);
      });
    }
  } else if (isa == Isa::kAvx512 && m == 1 && n * k >= kIgemmRowMinBytes) {
    // A decode step of one sequence by a large weight: each thread streams its share of the weight
    // rows once, whole, in address order (see IgemmRowAvx512).
    ParallelFor(n, std::max<int64_t>(16, kGrainMacs / k + 1), [&](int64_t j0, int64_t j1) { IgemmRowAvx512(ap, bp + j0 * k, k, cp + j0, j1 - j0, k); });
  } else if (work < kGrainMacs) {
    IgemmRange(block, ap, bp, cp, n, k, 0, m, 0, n);
  } else if (n >= m) {
    // Few rows (a decode step has one): split the columns, i.e. the weight rows.
    int64_t grain = std::max<int64_t>(16, kGrainMacs / (m * k) + 1);
    ParallelFor(n, grain, [&](int64_t j0, int64_t j1) { IgemmRange(block, ap, bp, cp, n, k, 0, m, j0, j1); });
  } else {
    ParallelFor(m, std::max<int64_t>(3, kGrainMacs / (n * k) + 1), [&](int64_t i0, int64_t i1) { IgemmRange(block, ap, bp, cp, n, k, i0, i1, 0, n); });
  }
}

// The largest k: beyond it int32 sums of products of int8 (up to 128² each) could overflow.
constexpr int64_t kMaxIgemmK = (int64_t(1) << 31) / (128 * 128) - 1;

// igemm(a, aOffset, b, bOffset, c, cOffset, m, n, k): a int8 [m, k], b int8 [n, k], c int32 [m, n],
// all packed.
Napi::Value Igemm(const Napi::CallbackInfo& info) {
  Args args(info, "igemm", 9);
  Array a = args.array(0, "a", Bit(ElemType::kInt8));
  int64_t ao = args.integer(1, "aOffset");
  Array b = args.array(2, "b", Bit(ElemType::kInt8));
  int64_t bo = args.integer(3, "bOffset");
  Array c = args.array(4, "c", Bit(ElemType::kInt32));
  int64_t co = args.integer(5, "cOffset");
  int64_t m = args.integer(6, "m", 0, int64_t(1) << 31);
  int64_t n = args.integer(7, "n", 0, int64_t(1) << 31);
  int64_t k = args.integer(8, "k", 0, kMaxIgemmK);
  args.checkRange(a, "a", ao, m * k);
  args.checkRange(b, "b", bo, n * k);
  args.checkRange(c, "c", co, m * n);
  return Launch(args, [=] { IgemmRun(a.as<int8_t>() + ao, b.as<int8_t>() + bo, c.as<int32_t>() + co, m, n, k); });
}

}  // namespace cpu
}  // namespace bminf
