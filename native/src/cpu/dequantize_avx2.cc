// AVX2 dequantization of one row (quantize.cc's dequantize): float16 column scales, bias and output
// read and written directly (F16C), where the scalar path converts them through float32 buffers
// allocated per call; that cost more than the arithmetic at a decode step's sizes (one row of
// 256-8000 elements). Bit-identical to the scalar loop: the same float32 operations in the same order,
// (float(acc) · rowScale) · colScale + bias, each rounded (the add is kept from fusing with the
// multiply), and float16 rounding to nearest even as FloatToHalf does. (Compiled with -mavx2 -mfma
// -mf16c; only called when the CPU has them.)
#include <cstdlib>

#include "cpu/features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace bminf {
namespace cpu {

namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __m256 Load8(const void* p, bool half, int64_t j) {
  if (half) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + j)));
  return _mm256_loadu_ps(static_cast<const float*>(p) + j);
}

inline void Store8(void* p, bool half, int64_t j, __m256 v) {
  if (half) _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(p) + j), _mm256_cvtps_ph(v, kRound));
  else _mm256_storeu_ps(static_cast<float*>(p) + j, v);
}

// The row's elements [j, j + 8): all of them, or the first `count` through a zero-padded copy.
inline void Block(const int32_t* a, __m256 rs, const uint16_t* cs, const void* bias, bool biasHalf, void* out,
                  bool outHalf, int64_t j) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + j))), rs);
  v = _mm256_mul_ps(v, Load8(cs, true, j));
  if (bias) {
    __asm__("" : "+x"(v));  // no fused multiply-add: the scalar path rounds the product first
    v = _mm256_add_ps(v, Load8(bias, biasHalf, j));
  }
  Store8(out, outHalf, j, v);
}

}  // namespace

void DequantizeRowAvx2(const int32_t* a, float rowScale, const uint16_t* colScale, const void* bias, bool biasHalf,
                       void* out, bool outHalf, int64_t n) {
  const __m256 rs = _mm256_set1_ps(rowScale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) Block(a, rs, colScale, bias, biasHalf, out, outHalf, j);
  if (j < n) {
    // The tail through 8-element copies, so that nothing past n is read or written.
    const int64_t r = n - j;
    alignas(32) int32_t ta[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) uint16_t tc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) float tb[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) float to[8];
    const size_t be = biasHalf ? 2 : 4, oe = outHalf ? 2 : 4;
    for (int64_t t = 0; t < r; t++) {
      ta[t] = a[j + t];
      tc[t] = colScale[j + t];
    }
    if (bias) __builtin_memcpy(tb, static_cast<const char*>(bias) + j * be, r * be);
    Block(ta, rs, tc, bias ? tb : nullptr, biasHalf, to, outHalf, 0);
    __builtin_memcpy(static_cast<char*>(out) + j * oe, to, r * oe);
  }
}

}  // namespace cpu
}  // namespace bminf

#else  // Not x86: never called (UseAvx2() is false) but must exist for the addon to link.

namespace bminf {
namespace cpu {

void DequantizeRowAvx2(const int32_t*, float, const uint16_t*, const void*, bool, void*, bool, int64_t) { std::abort(); }

}  // namespace cpu
}  // namespace bminf

#endif
