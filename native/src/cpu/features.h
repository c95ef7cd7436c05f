// Which kernels run: the best instruction-set path the CPU has (AVX-512 with VNNI, else AVX2/FMA/F16C,
// else plain C++), or a lower one when forced: BMINF_CPU_ISA=plain|avx2|avx512 in the environment
// (BMINF_CPU_PLAIN=1 still means plain), or cpu.setIsa(name) / cpu.setPlainKernels(true) from the tests
// that compare every path the machine has.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bminf {
namespace cpu {

// Ordered: each path uses the kernels of the ones below it where it has none of its own (the
// AVX-512 path keeps the AVX2 float kernels: on CPUs that run 512-bit ops as two 256-bit halves,
// as Zen 4 does, they gain nothing there; its int8 kernels gain VNNI's 4-way dot products).
enum class Isa { kPlain = 0, kAvx2 = 1, kAvx512 = 2 };

// The best path this CPU has: kAvx512 needs AVX-512 F/BW/VL/DQ and VNNI (plus the AVX2 set).
Isa CpuIsa();
// The path in use: the forced one, capped at CpuIsa().
Isa ActiveIsa();
// Forces a path (capped at CpuIsa()); SetIsaDefault() restores the environment's choice.
void SetIsa(Isa isa);
void SetIsaDefault();
const char* IsaName(Isa isa);
// Parses "plain", "avx2" or "avx512"; false for anything else.
bool ParseIsa(const char* name, Isa* out);

bool CpuHasAvx2();
inline bool UseAvx2() { return ActiveIsa() >= Isa::kAvx2; }
inline bool UseAvx512() { return ActiveIsa() >= Isa::kAvx512; }

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
// The same with AVX-512 (quantize_avx512.cc); call only when UseAvx512().
float AbsMaxAvx512(const float* x, int64_t n);
void QuantizeRowAvx512(const float* x, int64_t n, float scale, int8_t* q);

}  // namespace cpu
}  // namespace bminf
