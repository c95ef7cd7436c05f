// argmax over float32 logits: greedy decoding's pick, natively. In JavaScript the loop over a
// vocabulary (8 000 to 30 000 floats) cost a tenth of a small model's decode step; here two passes of
// vector maxima and compares. Semantics of the JS argmax it replaces (sampling-distribution.ts): the
// lowest index of the largest value, NaN never chosen, -1 when every value is NaN or -Infinity.
#include <cstdint>
#include <limits>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

int64_t ArgmaxPlain(const float* x, int64_t n) {
  int64_t best = -1;
  float bestValue = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; i++) {
    if (x[i] > bestValue) {
      best = i;
      bestValue = x[i];
    }
  }
  return best;
}

int64_t ArgmaxOf(const float* x, int64_t n, bool avx2) {
  if (n <= 0) return -1;
  return avx2 ? ArgmaxAvx2(x, n) : ArgmaxPlain(x, n);
}

// The argmax of row[0, n) without column `exclude` (-1: none): the best on either side of it, the
// left one winning a tie (the lower index).
int64_t ArgmaxExcept(const float* row, int64_t n, int64_t exclude, bool avx2) {
  if (exclude < 0) return ArgmaxOf(row, n, avx2);
  const int64_t left = ArgmaxOf(row, exclude, avx2);
  int64_t right = ArgmaxOf(row + exclude + 1, n - exclude - 1, avx2);
  if (right >= 0) right += exclude + 1;
  if (left < 0) return right;
  if (right < 0) return left;
  return row[left] >= row[right] ? left : right;
}

}  // namespace

// argmax(x, offset, n) -> the index in [0, n), or -1 (see above). Runs at once, never on a tape: it
// returns its answer to JS (argmaxRows below is the step op).
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Args args(info, "argmax", 3);
  Array x = args.array(0, "x", Bit(ElemType::kFloat32));
  int64_t xo = args.integer(1, "offset");
  int64_t n = args.integer(2, "n");
  args.checkRange(x, "x", xo, n);
  const float* p = x.as<float>() + xo;
  const int64_t i = UseAvx2() ? ArgmaxAvx2(p, n) : ArgmaxPlain(p, n);
  return Napi::Number::New(info.Env(), static_cast<double>(i));
}

// argmaxRows(x, xOffset, rows, n, exclude, out, outOffset): out[r] = the argmax (as above) of row r of
// x, packed [rows, n] float32 at xOffset, never column `exclude` (-1: none; else 0 <= exclude < n);
// out int32 [rows]. A step op (Backend.argmaxRows): recorded on a tape like any other, so a greedy
// decode step ends with its ids and the host reads rows ids instead of rows of logits.
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info) {
  Args args(info, "argmaxRows", 7);
  Array x = args.array(0, "x", Bit(ElemType::kFloat32));
  int64_t xo = args.integer(1, "xOffset");
  int64_t rows = args.integer(2, "rows", 0, int64_t(1) << 31);
  int64_t n = args.integer(3, "n", 0, int64_t(1) << 31);
  int64_t exclude = args.integer(4, "exclude", -1, kMaxIndex);
  Array out = args.array(5, "out", Bit(ElemType::kInt32));
  int64_t oo = args.integer(6, "outOffset");
  if (exclude >= n) args.rangeError("exclude must be -1 (none) or a column index below n.");
  if (rows > 0 && n > kMaxIndex / rows) args.rangeError("rows * n is too large.");
  args.checkRange(x, "x", xo, rows * n);
  args.checkRange(out, "out", oo, rows);
  if (rows == 0) return info.Env().Undefined();
  return Launch(args, [=] {
    const float* p = x.as<float>() + xo;
    int32_t* ids = out.as<int32_t>() + oo;
    const bool avx2 = UseAvx2();  // read when the op runs: a tape follows the path in use then
    ParallelFor(rows, kGrainElements / (n + 1) + 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) ids[r] = static_cast<int32_t>(ArgmaxExcept(p + r * n, n, exclude, avx2));
    });
  });
}

}  // namespace cpu
}  // namespace bminf
