// LayerNorm (mean-subtracting, with bias: CPM-1) and RMS norm (CPM-2, EVA) over the last dimension.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/args.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

// Sums in double over 8 independent lanes: as accurate as a double loop, but vectorised (a single
// double accumulator is a chain of dependent adds, several times slower).
double Sum(const float* __restrict x, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; u++) lane[u] += x[j + u];
  double s = 0;
  for (; j < n; j++) s += x[j];
  for (double v : lane) s += v;
  return s;
}

// Sum of (x - c)².
double SumSquares(const float* __restrict x, double c, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; u++) {
      const double d = x[j + u] - c;
      lane[u] += d * d;
    }
  double s = 0;
  for (; j < n; j++) s += (x[j] - c) * (x[j] - c);
  for (double v : lane) s += v;
  return s;
}

void Normalize(const float* __restrict x, float shift, float inv, const float* __restrict w, const float* __restrict b,
               float* __restrict y, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = (x[j] - shift) * inv * w[j] + b[j];
}

}  // namespace

// layerNorm(x, xOffset, rows, cols, weight, weightOffset, bias|null, biasOffset, out, outOffset, eps,
//           subtractMean). Statistics are summed in double (rows are up to 4096 long), the rest is
// float32: y = (x - mean) · (1 / sqrt(var + eps)) · w + b, or y = x · (1 / sqrt(mean(x²) + eps)) · w.
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Args args(info, "layerNorm", 12);
  Array x = args.array(0, "x", kFloatTypes);
  int64_t xo = args.integer(1, "xOffset");
  int64_t rows = args.integer(2, "rows");
  int64_t cols = args.integer(3, "cols", 0, int64_t(1) << 31);
  Array w = args.array(4, "weight", kFloatTypes);
  int64_t wo = args.integer(5, "weightOffset");
  Array bias = args.optionalArray(6, "bias", kFloatTypes);
  int64_t bo = args.integer(7, "biasOffset");
  Array out = args.array(8, "out", kFloatTypes);
  int64_t oo = args.integer(9, "outOffset");
  double eps = args.number(10, "eps");
  bool subtractMean = args.boolean(11, "subtractMean");
  args.checkSameType(x, "x", out, "out");
  args.checkSameType(w, "weight", out, "out");
  if (bias.present) args.checkSameType(bias, "bias", out, "out");
  if (eps < 0) args.rangeError("eps must not be negative.");
  if (rows > 0 && cols > kMaxIndex / rows) args.rangeError("rows * cols is too large.");
  args.checkRange(x, "x", xo, rows * cols);
  args.checkRange(w, "weight", wo, cols);
  if (bias.present) args.checkRange(bias, "bias", bo, cols);
  args.checkRange(out, "out", oo, rows * cols);
  if (rows == 0 || cols == 0) return info.Env().Undefined();

  return Launch(args, [=] {
    // The weight and bias in float32 (zeros for no bias), in this thread's slots 0 and 1; the rows'
    // buffers are each thread's slots 2 and 3.
    const float* wf = LoadRow(w, wo, cols, ScratchFloats(0, cols));
    float* bz = ScratchFloats(1, cols);
    const float* bf = bias.present ? LoadRow(bias, bo, cols, bz) : bz;
    if (!bias.present) std::fill(bz, bz + cols, 0.f);
    const float e = static_cast<float>(eps);
    ParallelFor(rows, kGrainElements / (cols + 1) + 1, [&](int64_t begin, int64_t end) {
      const bool direct = out.type == ElemType::kFloat32;  // float32 rows are written in place
      float* in = ScratchFloats(2, cols);
      float* buf = ScratchFloats(3, cols);
      for (int64_t r = begin; r < end; r++) {
        const float* xr = LoadRow(x, xo + r * cols, cols, in);
        float* y = direct ? out.as<float>() + oo + r * cols : buf;
        // RMS norm is the same formula without the mean (and, in CPM-2, without bias: zeros here).
        const float mean = subtractMean ? static_cast<float>(Sum(xr, cols) / cols) : 0.f;
        const double sq = SumSquares(xr, mean, cols);
        const float inv = 1.0f / std::sqrt(static_cast<float>(sq / cols) + e);
        Normalize(xr, mean, inv, wf, bf, y, cols);
        if (!direct) StoreRow(out, oo + r * cols, y, cols);
      }
    });
  });
}

}  // namespace cpu
}  // namespace bminf
