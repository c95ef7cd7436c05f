// Which kernels run: the AVX2/FMA/F16C ones when the CPU has them, the plain C++ ones otherwise, or
// when forced (BMINF_CPU_PLAIN=1 in the environment, or cpu.setPlainKernels(true), used by the tests
// that compare both paths).
#pragma once
#include <cstddef>
#include <cstdint>

namespace bminf {
namespace cpu {

bool CpuHasAvx2();
bool UseAvx2();
void SetForcePlain(bool plain);

// Bulk conversions between float16 bits and float32, F16C-accelerated where available.
void HalfToFloatN(const uint16_t* src, float* dst, size_t n);
void FloatToHalfN(const float* src, uint16_t* dst, size_t n);

// The AVX2 versions (features_avx2.cc); call only when UseAvx2().
void HalfToFloatNAvx2(const uint16_t* src, float* dst, size_t n);
void FloatToHalfNAvx2(const float* src, uint16_t* dst, size_t n);

// Vectorised math (math_avx2.cc); call only when UseAvx2().
// y[i] = GELU(x[i]) (tanh form); y may be x.
void GeluAvx2(const float* x, float* y, int64_t n);
// v[i] = exp(v[i] - shift) in place; returns the sum.
float ExpShiftSumAvx2(float* v, int64_t n, float shift);
// y[i] = scale · x[i] (+ bias[i] when bias is not null); returns max y (NaN skipped; -inf for n = 0).
float ScaleBiasMaxAvx2(const float* x, const float* bias, float scale, float* y, int64_t n);
void ScaleInPlaceAvx2(float* y, float scale, int64_t n);

// Row quantization (quantize_avx2.cc); call only when UseAvx2(). Max |x| skipping NaN; q = clamp(
// nearbyint(x / scale), ±127) with NaN -> 0, for scale != 0.
float AbsMaxAvx2(const float* x, int64_t n);
void QuantizeRowAvx2(const float* x, int64_t n, float scale, int8_t* q);

}  // namespace cpu
}  // namespace bminf
