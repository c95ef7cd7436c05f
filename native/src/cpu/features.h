// Which kernels run: the best instruction-set path the CPU has (AVX-512 with VNNI, else AVX-VNNI,
// else AVX2/FMA/F16C, else plain C++), or a lower one when forced: BMINF_CPU_ISA=plain|avx2|avxvnni|
// avx512 in the environment (BMINF_CPU_PLAIN=1 still means plain), or cpu.setIsa(name) /
// cpu.setPlainKernels(true) from the tests that compare every path the machine has.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bminf {
namespace cpu {

// Ordered: each path uses the kernels of the ones below it where it has none of its own. Above AVX2
// the int8 kernels differ: VNNI's 4-way byte dot products (vpdpbusd), on 256-bit vectors (AVX-VNNI)
// or 512-bit ones. The float kernels stay AVX2 but for the packed GEMM's micro-kernel, which the
// AVX-512 path runs on zmm (gemm_avx512.cc, the same bits): CPUs with full-width 512-bit FMA units
// (Zen 5) do twice the work per instruction; those that split 512-bit ops in two (Zen 4), as much.
enum class Isa { kPlain = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3 };
constexpr int kIsaCount = 4;

// Whether this CPU can run a path: kAvx2 needs AVX2/FMA/F16C; kAvxVnni that and AVX-VNNI; kAvx512
// that set and AVX-512 F/BW/VL/DQ with VNNI. (Not a chain: a CPU may have AVX-512 VNNI but not
// AVX-VNNI, as Ice Lake does.)
bool CpuSupports(Isa isa);
// The path in use: the forced one (default: the highest), or the highest below it this CPU supports.
Isa ActiveIsa();
// Forces a path; SetIsaDefault() restores the environment's choice.
void SetIsa(Isa isa);
void SetIsaDefault();
const char* IsaName(Isa isa);
// Parses "plain", "avx2", "avxvnni" or "avx512"; false for anything else.
bool ParseIsa(const char* name, Isa* out);

bool CpuHasAvx2();
inline bool UseAvx2() { return ActiveIsa() >= Isa::kAvx2; }

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
// The lowest index of the largest of x[0..n), NaN skipped; -1 when all are NaN or -inf (argmax.cc).
int64_t ArgmaxAvx2(const float* x, int64_t n);

// Row quantization (quantize_avx2.cc); call only when UseAvx2(). Max |x| skipping NaN; q = clamp(
// nearbyint(x / scale), ±127) with NaN -> 0, for scale != 0.
float AbsMaxAvx2(const float* x, int64_t n);
void QuantizeRowAvx2(const float* x, int64_t n, float scale, int8_t* q);
// out[j] = (float(a[j]) · rowScale) · colScale[j] (+ bias[j]) for j < n, bit-identical to quantize.cc's
// scalar row (dequantize_avx2.cc); colScale float16 bits, bias and out float16 (half) or float32.
void DequantizeRowAvx2(const int32_t* a, float rowScale, const uint16_t* colScale, const void* bias, bool biasHalf,
                       void* out, bool outHalf, int64_t n);
// The same with AVX-512 (quantize_avx512.cc); call only on the AVX-512 path.
float AbsMaxAvx512(const float* x, int64_t n);
void QuantizeRowAvx512(const float* x, int64_t n, float scale, int8_t* q);

}  // namespace cpu
}  // namespace bminf
