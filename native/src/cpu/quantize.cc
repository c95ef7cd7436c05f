// BMInf's row quantization and the dequantization after the integer GEMM.
#include <cmath>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/half.h"
#include "cpu/linear_parts.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

void QuantizeRowsRun(const Array& x, int64_t xo, int64_t rows, int64_t cols, int8_t* qv, uint16_t* sv) {
  const Isa isa = ActiveIsa();
  ParallelFor(rows, kGrainElements / (cols + 1) + 1, [&](int64_t begin, int64_t end) {
    float* buf = x.type == ElemType::kFloat16 ? ScratchFloats(0, cols) : nullptr;
    for (int64_t r = begin; r < end; r++) {
      const float* xr = LoadRow(x, xo + r * cols, cols, buf);
      float amax = 0.f;
      if (isa == Isa::kAvx512) {
        amax = AbsMaxAvx512(xr, cols);
      } else if (isa >= Isa::kAvx2) {
        amax = AbsMaxAvx2(xr, cols);
      } else {
        for (int64_t j = 0; j < cols; j++) {
          float a = std::fabs(xr[j]);
          amax = a > amax ? a : amax;
        }
      }
      uint16_t s16 = FloatToHalf(amax / 127.0f);
      float scale = HalfToFloat(s16);
      sv[r] = s16;
      int8_t* qr = qv + r * cols;
      if (scale == 0.f) {
        for (int64_t j = 0; j < cols; j++) qr[j] = 0;
        continue;
      }
      if (isa == Isa::kAvx512) {
        QuantizeRowAvx512(xr, cols, scale, qr);
        continue;
      }
      if (isa >= Isa::kAvx2) {
        QuantizeRowAvx2(xr, cols, scale, qr);
        continue;
      }
      for (int64_t j = 0; j < cols; j++) {
        float v = std::nearbyint(xr[j] / scale);  // the default rounding mode: to nearest, ties to even
        v = v > 127.f ? 127.f : v < -127.f ? -127.f : v;
        qr[j] = v == v ? static_cast<int8_t>(v) : 0;
      }
    }
  });
}

// quantizeRows(x, xOffset, rows, cols, values, valuesOffset, scales, scalesOffset)
// x [rows, cols] float16/float32 -> values int8 [rows, cols], scales float16 [rows].
// scale = absmax / 127 rounded to float16; q = clamp(nearbyint(x / scale), -127, 127) with the division
// in float32 by the rounded scale. A scale of 0 (a zero row, or one so small that absmax/127 rounds to
// zero in float16) gives q = 0; NaN elements give 0.
Napi::Value QuantizeRows(const Napi::CallbackInfo& info) {
  Args args(info, "quantizeRows", 8);
  Array x = args.array(0, "x", kFloatTypes);
  int64_t xo = args.integer(1, "xOffset");
  int64_t rows = args.integer(2, "rows");
  int64_t cols = args.integer(3, "cols", 0, int64_t(1) << 31);
  Array q = args.array(4, "values", Bit(ElemType::kInt8));
  int64_t qo = args.integer(5, "valuesOffset");
  Array s = args.array(6, "scales", Bit(ElemType::kFloat16));
  int64_t so = args.integer(7, "scalesOffset");
  if (rows > 0 && cols > kMaxIndex / rows) args.rangeError("rows * cols is too large.");
  args.checkRange(x, "x", xo, rows * cols);
  args.checkRange(q, "values", qo, rows * cols);
  args.checkRange(s, "scales", so, rows);
  int8_t* qv = q.as<int8_t>() + qo;
  uint16_t* sv = s.as<uint16_t>() + so;
  return Launch(args, [=] { QuantizeRowsRun(x, xo, rows, cols, qv, sv); });
}

namespace {
// One row of the dequantization, in a loop the compiler vectorises (no aliasing, no branches).
void DequantizeRow(const int32_t* __restrict a, float rs, const float* __restrict cs, const float* __restrict bias,
                   float* __restrict y, int64_t n) {
  if (bias) {
    for (int64_t j = 0; j < n; j++) y[j] = static_cast<float>(a[j]) * rs * cs[j] + bias[j];
  } else {
    for (int64_t j = 0; j < n; j++) y[j] = static_cast<float>(a[j]) * rs * cs[j];
  }
}
}  // namespace

void DequantizeRun(const int32_t* a, int64_t m, int64_t n, const uint16_t* r16, const uint16_t* c16, const Array& bias, int64_t bo,
                   const Array& out, int64_t oo) {
  if (UseAvx2()) {
    const bool biasHalf = bias.type == ElemType::kFloat16, outHalf = out.type == ElemType::kFloat16;
    const size_t be = biasHalf ? 2 : 4, oe = outHalf ? 2 : 4;
    const char* b = bias.present ? static_cast<const char*>(bias.data) + bo * be : nullptr;
    char* o = static_cast<char*>(out.data) + oo * oe;
    ParallelFor(m, kGrainElements / (n + 1) + 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) DequantizeRowAvx2(a + i * n, HalfToFloat(r16[i]), c16, b, biasHalf, o + i * n * oe, outHalf, n);
    });
    return;
  }
  std::vector<float> colScale(n), biasF;
  HalfToFloatN(c16, colScale.data(), n);
  if (bias.present) {
    biasF.resize(n);
    const float* b = LoadRow(bias, bo, n, biasF.data());
    if (b != biasF.data()) biasF.assign(b, b + n);
  }
  ParallelFor(m, kGrainElements / (n + 1) + 1, [&](int64_t begin, int64_t end) {
    const bool direct = out.type == ElemType::kFloat32;  // float32 rows are written in place
    std::vector<float> row(direct ? 0 : n);
    for (int64_t i = begin; i < end; i++) {
      float* y = direct ? out.as<float>() + oo + i * n : row.data();
      DequantizeRow(a + i * n, HalfToFloat(r16[i]), colScale.data(), bias.present ? biasF.data() : nullptr, y, n);
      if (!direct) StoreRow(out, oo + i * n, y, n);
    }
  });
}

// dequantize(acc, accOffset, m, n, rowScale, rowScaleOffset, colScale, colScaleOffset, bias|null,
//            biasOffset, out, outOffset)
// out[i, j] = float(acc[i, j]) * rowScale[i] * colScale[j] (+ bias[j]), in float32 in that order,
// rounded once to out's type. bias has out's type.
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  Args args(info, "dequantize", 12);
  Array acc = args.array(0, "acc", Bit(ElemType::kInt32));
  int64_t ao = args.integer(1, "accOffset");
  int64_t m = args.integer(2, "m");
  int64_t n = args.integer(3, "n", 0, int64_t(1) << 31);
  Array rs = args.array(4, "rowScale", Bit(ElemType::kFloat16));
  int64_t rso = args.integer(5, "rowScaleOffset");
  Array cs = args.array(6, "colScale", Bit(ElemType::kFloat16));
  int64_t cso = args.integer(7, "colScaleOffset");
  Array bias = args.optionalArray(8, "bias", kFloatTypes);
  int64_t bo = args.integer(9, "biasOffset");
  Array out = args.array(10, "out", kFloatTypes);
  int64_t oo = args.integer(11, "outOffset");
  if (m > 0 && n > kMaxIndex / m) args.rangeError("m * n is too large.");
  args.checkRange(acc, "acc", ao, m * n);
  args.checkRange(rs, "rowScale", rso, m);
  args.checkRange(cs, "colScale", cso, n);
  if (bias.present) {
    args.checkSameType(bias, "bias", out, "out");
    args.checkRange(bias, "bias", bo, n);
  }
  args.checkRange(out, "out", oo, m * n);
  if (m == 0 || n == 0) return info.Env().Undefined();
  return Launch(args, [=] { DequantizeRun(acc.as<int32_t>() + ao, m, n, rs.as<uint16_t>() + rso, cs.as<uint16_t>() + cso, bias, bo, out, oo); });
}

}  // namespace cpu
}  // namespace bminf
