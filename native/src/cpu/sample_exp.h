// The sampler's float64 e^x and its two vector loops (sample.cc), in a header so that the AVX2 file
// (sample_avx2.cc, built with -mavx2 -mfma) compiles the same loop 4 wide.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bminf {
namespace cpu {

// e^x for -708 ≤ x ≤ 0 within an ulp (checked against std::exp over 2e7 values), in a loop the
// compiler vectorizes (std::exp is a call per element). x = k ln 2 + r with |r| ≤ ln 2 / 2: k rounded
// by adding 1.5 · 2^52, which also leaves k in the low bits of t (so 2^k is built with integer adds and
// a shift, no float-to-int conversion), ln 2 in two parts; e^r by its Taylor series to r^13 / 13! (the
// next term is under 3e-18 of it).
inline double ExpNonPositive(double x) {
  constexpr double kLog2e = 1.4426950408889634, kLn2Hi = 0.6931471803691238, kLn2Lo = 1.9082149292705877e-10;
  constexpr double kRound = 6755399441055744.0;  // 1.5 · 2^52
  constexpr uint64_t kRoundBits = 0x4338000000000000ull;
  const double t = x * kLog2e + kRound;
  const double kd = t - kRound;
  const double r = (x - kd * kLn2Hi) - kd * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1 / 13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  uint64_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const uint64_t bits = (tb - kRoundBits + 1023) << 52;  // k + 1023 in the exponent field
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// w[j] = e^((v[j] − max) / temperature) for j in [0, n), divided as the reference divides. Below
// e^-708 a weight is 0 here (the reference keeps a value under 1e-307 of the largest weight, 1: no sum
// and no draw can tell them apart).
inline void WeightsLoop(const double* v, double max, double temperature, double* w, size_t n) {
  for (size_t j = 0; j < n; j++) {
    const double x = (v[j] - max) / temperature;
    // selects, not branches (CMakeLists.txt builds this file with -fno-trapping-math): the loop vectorizes
    const double e = ExpNonPositive(x > -708.0 ? x : -708.0);
    w[j] = x >= -708.0 ? e : 0.0;
  }
}

// x[0, n) with NaN made -Infinity, and the largest value and how many are above -Infinity, as the
// reference's first pass; the AVX2 version (sample_avx2.cc) gives the same. Call only when UseAvx2().
struct LogitScan {
  double max;
  int64_t finite;
};
LogitScan ScanLogitsAvx2(double* x, int64_t n);
void WeightsAvx2(const double* v, double max, double temperature, double* w, size_t n);

}  // namespace cpu
}  // namespace bminf
