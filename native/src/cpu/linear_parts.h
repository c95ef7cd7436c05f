// The work of the int8 linear layer's ops, without their argument checks: quantizeRows (quantize.cc),
// igemm (igemm.cc), dequantize (quantize.cc) and the residual add (elementwise.cc), each run by its own
// op and, one after another, by linearInt8 (linear_int8.cc). Pointers are already offset; the Arrays
// are read from their offsets.
#pragma once
#include <cstdint>

#include "cpu/args.h"

namespace bminf {
namespace cpu {

// x [rows, cols] float -> qv int8 [rows, cols], sv float16 bits [rows].
void QuantizeRowsRun(const Array& x, int64_t xo, int64_t rows, int64_t cols, int8_t* qv, uint16_t* sv);
// cp [m, n] = ap [m, k] · bp [n, k]ᵀ, int32.
void IgemmRun(const int8_t* ap, const int8_t* bp, int32_t* cp, int64_t m, int64_t n, int64_t k);
// out [m, n] = (float(a) · r16[i]) · c16[j] (+ bias[j]), rounded to out's type.
void DequantizeRun(const int32_t* a, int64_t m, int64_t n, const uint16_t* r16, const uint16_t* c16, const Array& bias,
                   int64_t bo, const Array& out, int64_t oo);
// out [n] = a [n] + (or ·) b [n or a divisor bn, repeated], in float32, rounded to out's type.
void BinaryRun(bool add, const Array& a, int64_t ao, int64_t n, const Array& b, int64_t bo, int64_t bn, const Array& out,
               int64_t oo);

}  // namespace cpu
}  // namespace bminf
