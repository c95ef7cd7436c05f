// argmax over float32 logits: greedy decoding's pick, natively. In JavaScript the loop over a
// vocabulary (8 000 to 30 000 floats) cost a tenth of a small model's decode step; here two passes of
// vector maxima and compares. Semantics of the JS argmax it replaces (sampling-distribution.ts): the
// lowest index of the largest value, NaN never chosen, -1 when every value is NaN or -Infinity.
#include <cstdint>
#include <limits>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/ops.h"

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

}  // namespace

// argmax(x, offset, n) -> the index in [0, n), or -1 (see above). Runs at once, never on a tape: it
// reads a step's results on the host.
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

}  // namespace cpu
}  // namespace bminf
