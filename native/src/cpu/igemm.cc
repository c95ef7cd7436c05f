// The int8 GEMM of BMInf's linear layers: C[m, n] = A[m, k] · B[n, k]ᵀ, int32, exact.
#include <algorithm>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/gemm_kernels.h"
#include "cpu/ops.h"
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

}  // namespace

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
  const int8_t* ap = a.as<int8_t>() + ao;
  const int8_t* bp = b.as<int8_t>() + bo;
  int32_t* cp = c.as<int32_t>() + co;
  if (m == 0 || n == 0) return info.Env().Undefined();
  if (k == 0) {
    std::fill(cp, cp + m * n, 0);
    return info.Env().Undefined();
  }
  IgemmBlockFn block = UseAvx2() ? IgemmBlockAvx2 : IgemmBlockPlain;
  const double work = double(m) * double(n) * double(k);
  if (work < 1 << 16) {
    IgemmRange(block, ap, bp, cp, n, k, 0, m, 0, n);
  } else if (n >= m) {
    // Few rows (a decode step has one): split the columns, i.e. the weight rows.
    int64_t grain = std::max<int64_t>(16, (1 << 16) / (m * k) + 1);
    ParallelFor(n, grain, [&](int64_t j0, int64_t j1) { IgemmRange(block, ap, bp, cp, n, k, 0, m, j0, j1); });
  } else {
    ParallelFor(m, 3, [&](int64_t i0, int64_t i1) { IgemmRange(block, ap, bp, cp, n, k, i0, i1, 0, n); });
  }
  return info.Env().Undefined();
}

}  // namespace cpu
}  // namespace bminf
