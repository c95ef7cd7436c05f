// BMInf's int8 linear layer as one op (Backend.linearInt8): quantize the activation rows, the integer
// GEMM with the int8 weight, dequantize with both scales (+ bias), and optionally add a residual,
// computed exactly as the three or four separate ops compute it (the same functions, in the same
// order), so the result is bit for bit theirs. What it saves is the ops between: a decode step runs
// 17 linear layers in tiny-cpm1, each three or four ops with their dispatch and their temporaries
// (allocated from the pool, written and read back), for a few microseconds of arithmetic each.
#include <vector>

#include "cpu/args.h"
#include "cpu/linear_parts.h"
#include "cpu/ops.h"
#include "cpu/tape.h"

namespace bminf {
namespace cpu {

namespace {

// The calling thread's temporaries, kept between calls (a decode step makes dozens); released after
// a call that needed more than kKeepBytes (a long prefill's) so that they do not pin its size.
constexpr size_t kKeepBytes = size_t(8) << 20;

struct Scratch {
  std::vector<int8_t> q;
  std::vector<uint16_t> scales;
  std::vector<int32_t> acc;
  std::vector<char> linear;  // the dequantized product when a residual is added to it
  void Trim() {
    if (q.capacity() + acc.capacity() * 4 + linear.capacity() > kKeepBytes) *this = Scratch();
  }
};
thread_local Scratch t_scratch;

}  // namespace

// linearInt8(x, xOffset, n, k, weight, weightOffset, m, weightScale, weightScaleOffset, bias|null,
//            biasOffset, residual|null, residualOffset, out, outOffset)
// x float [n, k]; weight int8 [m, k]; weightScale float16 [m]; bias [m], residual [n, m] and out
// [n, m] of one float type; all packed. out = dequantize(igemm(quantizeRows(x), weight), …) (+ bias),
// then residual + that (rounded to out's type in between, as the separate ops round).
Napi::Value LinearInt8(const Napi::CallbackInfo& info) {
  Args args(info, "linearInt8", 15);
  Array x = args.array(0, "x", kFloatTypes);
  int64_t xo = args.integer(1, "xOffset");
  int64_t n = args.integer(2, "n", 0, int64_t(1) << 31);
  int64_t k = args.integer(3, "k", 0, (int64_t(1) << 31) / (128 * 128) - 1);  // int32 sums cannot overflow
  Array w = args.array(4, "weight", Bit(ElemType::kInt8));
  int64_t wo = args.integer(5, "weightOffset");
  int64_t m = args.integer(6, "m", 0, int64_t(1) << 31);
  Array ws = args.array(7, "weightScale", Bit(ElemType::kFloat16));
  int64_t wso = args.integer(8, "weightScaleOffset");
  Array bias = args.optionalArray(9, "bias", kFloatTypes);
  int64_t bo = args.integer(10, "biasOffset");
  Array residual = args.optionalArray(11, "residual", kFloatTypes);
  int64_t ro = args.integer(12, "residualOffset");
  Array out = args.array(13, "out", kFloatTypes);
  int64_t oo = args.integer(14, "outOffset");
  if (n > 0 && (k > kMaxIndex / n || m > kMaxIndex / n)) args.rangeError("n * k or n * m is too large.");
  args.checkRange(x, "x", xo, n * k);
  args.checkRange(w, "weight", wo, m * k);
  args.checkRange(ws, "weightScale", wso, m);
  if (bias.present) {
    args.checkSameType(bias, "bias", out, "out");
    args.checkRange(bias, "bias", bo, m);
  }
  if (residual.present) {
    args.checkSameType(residual, "residual", out, "out");
    args.checkRange(residual, "residual", ro, n * m);
  }
  args.checkRange(out, "out", oo, n * m);
  if (n == 0 || m == 0) return info.Env().Undefined();
  return Launch(args, [=] {
    Scratch& s = t_scratch;
    s.q.resize(n * k);
    s.scales.resize(n);
    s.acc.resize(n * m);
    QuantizeRowsRun(x, xo, n, k, s.q.data(), s.scales.data());
    IgemmRun(s.q.data(), w.as<int8_t>() + wo, s.acc.data(), n, m, k);
    const uint16_t* colScale = ws.as<uint16_t>() + wso;
    if (!residual.present) {
      DequantizeRun(s.acc.data(), n, m, s.scales.data(), colScale, bias, bo, out, oo);
    } else {
      // The product rounded to out's type on its own, then added to the residual: add(residual, linear).
      s.linear.resize(n * m * ElemSize(out.type));
      Array linear = out;
      linear.data = s.linear.data();
      linear.length = n * m;
      DequantizeRun(s.acc.data(), n, m, s.scales.data(), colScale, bias, bo, linear, 0);
      BinaryRun(true, residual, ro, n * m, linear, 0, n * m, out, oo);
    }
    s.Trim();
  });
}

}  // namespace cpu
}  // namespace bminf
