// Softmax over the last dimension with a scale, an additive bias and a causal mask (attention).
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

// softmax(x, xOffset, batch, rows, cols, out, outOffset, scale, causalOffset|null, bias|null, biasOffset,
//         biasBatchStride, biasRowStride, colBias|null, colBiasOffset)
// x and out are packed [batch, rows, cols]; bias (x's type) row r of batch b is at biasOffset +
// b · biasBatchStride + r · biasRowStride (strides of 0 broadcast one bias over the batch or rows; a row
// stride of -1 reads a bias by distance, ScoreBias.distanceBias); colBias [cols] at colBiasOffset is added
// to every row (ScoreBias.keyBias), the two summed in float32. y = softmax(scale · x + bias) where entries
// with col > row + causalOffset are masked (0). A row with nothing left (all masked, or all -inf)
// is all zeros rather than NaN.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args args(info, "softmax", 15);
  Array x = args.array(0, "x", kFloatTypes);
  int64_t xo = args.integer(1, "xOffset");
  int64_t batch = args.integer(2, "batch");
  int64_t rows = args.integer(3, "rows");
  int64_t cols = args.integer(4, "cols", 0, int64_t(1) << 31);
  Array out = args.array(5, "out", kFloatTypes);
  int64_t oo = args.integer(6, "outOffset");
  float scale = static_cast<float>(args.number(7, "scale"));
  bool causal = !(info[8].IsNull() || info[8].IsUndefined());
  int64_t causalOffset = causal ? args.integer(8, "causalOffset", -kMaxIndex, kMaxIndex) : 0;
  Array bias = args.optionalArray(9, "bias", kFloatTypes);
  int64_t bo = args.integer(10, "biasOffset");
  int64_t bstride = args.integer(11, "biasBatchStride");
  int64_t rstride = args.integer(12, "biasRowStride", -1, kMaxIndex);  // -1: a bias by distance
  Array colBias = args.optionalArray(13, "colBias", kFloatTypes);
  int64_t co = args.integer(14, "colBiasOffset");
  args.checkSameType(x, "x", out, "out");
  if (bias.present) args.checkSameType(bias, "bias", out, "out");
  if (rows > 0 && cols > kMaxIndex / rows) args.rangeError("rows * cols is too large.");
  if (batch > 0 && rows * cols > kMaxIndex / batch) args.rangeError("batch * rows * cols is too large.");
  args.checkRange(x, "x", xo, batch * rows * cols);
  args.checkRange(out, "out", oo, batch * rows * cols);
  if (bias.present) args.checkView(bias, "bias", bo, {batch, rows, cols}, {bstride, rstride, 1});
  if (colBias.present) args.checkSameType(colBias, "colBias", out, "out");
  if (colBias.present) args.checkRange(colBias, "colBias", co, cols);
  if (batch == 0 || rows == 0 || cols == 0) return info.Env().Undefined();

  return Launch(args, [=] {
    const bool avx2 = UseAvx2();
    ParallelFor(batch * rows, kGrainElements / (cols + 1) + 1, [&](int64_t begin, int64_t end) {
      float* xb = ScratchFloats(0, cols);
      float* bb = ScratchFloats(1, cols);
      float* y = ScratchFloats(2, cols);
      for (int64_t t = begin; t < end; t++) {
        const int64_t bi = t / rows, r = t % rows;
        const float* xr = LoadRow(x, xo + t * cols, cols, xb);
        const float* br = bias.present ? LoadRow(bias, bo + bi * bstride + r * rstride, cols, bb) : nullptr;
        if (colBias.present) {
          const float* cb = LoadRow(colBias, co, cols, ScratchFloats(3, cols));
          if (br) {
            for (int64_t j = 0; j < cols; j++) bb[j] = br[j] + cb[j];  // br may be bb itself: in place
            br = bb;
          } else {
            br = cb;
          }
        }
        int64_t valid = cols;
        if (causal) {
          int64_t last = r + causalOffset;  // the last visible column
          valid = last < 0 ? 0 : last + 1 < cols ? last + 1 : cols;
        }
        float mx = -std::numeric_limits<float>::infinity();
        if (avx2) {
          mx = ScaleBiasMaxAvx2(xr, br, scale, y, valid);
        } else {
          for (int64_t j = 0; j < valid; j++) {
            float v = scale * xr[j];
            if (br) v += br[j];
            y[j] = v;
            mx = v > mx ? v : mx;
          }
        }
        if (mx == -std::numeric_limits<float>::infinity()) {
          for (int64_t j = 0; j < cols; j++) y[j] = 0.f;
        } else {
          float sum = 0.f;
          if (avx2) {
            sum = ExpShiftSumAvx2(y, valid, mx);
            ScaleInPlaceAvx2(y, 1.f / sum, valid);
          } else {
            for (int64_t j = 0; j < valid; j++) {
              y[j] = std::exp(y[j] - mx);
              sum += y[j];
            }
            const float inv = 1.f / sum;
            for (int64_t j = 0; j < valid; j++) y[j] *= inv;
          }
          for (int64_t j = valid; j < cols; j++) y[j] = 0.f;
        }
        StoreRow(out, oo + t * cols, y, cols);
      }
    });
  });
}

}  // namespace cpu
}  // namespace bminf
