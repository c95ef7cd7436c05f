// The vectorised inner loops of attendCache (step_ops.cc), in attend_avx2.cc; call only when
// UseAvx2(). Keys and values are float16 bits (half) or float32, rows `stride` elements apart; q, w,
// s and acc are float32.
#pragma once
#include <cstdint>

namespace bminf {
namespace cpu {

// s[j] = scale · Σ_p q[p] · keys[j · stride + p], for j < rows.
void AttendScoresAvx2(const float* q, const void* keys, bool half, int64_t stride, int64_t rows, int64_t dim, float scale,
                      float* s);
// acc[p] = Σ_j w[j] · values[j · stride + p], for p < dim (acc is overwritten).
void AttendMixAvx2(const float* w, const void* values, bool half, int64_t stride, int64_t rows, int64_t dim, float* acc);

}  // namespace cpu
}  // namespace bminf
