// The plain C++ GEMM kernels: the fallback on CPUs without AVX2, and the reference the AVX2 ones are
// tested against. Written so that the compiler can vectorise them with SSE2.
#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/half.h"

namespace bminf {
namespace cpu {

void IgemmBlockPlain(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc, int64_t m,
                     int64_t n, int64_t k, bool accumulate) {
  for (int64_t i = 0; i < m; i++) {
    const int8_t* ai = a + i * lda;
    for (int64_t j = 0; j < n; j++) {
      const int8_t* bj = b + j * ldb;
      int32_t s = 0;
      for (int64_t p = 0; p < k; p++) s += int32_t(ai[p]) * int32_t(bj[p]);
      if (accumulate) c[i * ldc + j] += s;
      else c[i * ldc + j] = s;
    }
  }
}

namespace {

inline float Load(const Operand& x, int64_t index) {
  return x.half ? HalfToFloat(static_cast<const uint16_t*>(x.data)[index]) : static_cast<const float*>(x.data)[index];
}

void PackA(const Operand& a, int64_t i0, int64_t p0, int64_t mc, int64_t kc, float* out) {
  for (int64_t s = 0; s < mc; s += kGemmMr) {
    for (int64_t p = 0; p < kc; p++) {
      for (int i = 0; i < kGemmMr; i++) {
        int64_t r = s + i;
        *out++ = r < mc ? Load(a, (i0 + r) * a.rs + (p0 + p) * a.cs) : 0.f;
      }
    }
  }
}

void PackB(const Operand& b, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out) {
  for (int64_t s = 0; s < nc; s += kGemmNr) {
    for (int64_t p = 0; p < kc; p++) {
      for (int j = 0; j < kGemmNr; j++) {
        int64_t col = s + j;
        *out++ = col < nc ? Load(b, (p0 + p) * b.rs + (j0 + col) * b.cs) : 0.f;
      }
    }
  }
}

void Kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, bool accumulate) {
  float acc[kGemmMr][kGemmNr] = {};
  for (int64_t p = 0; p < kc; p++) {
    for (int i = 0; i < kGemmMr; i++) {
      const float ai = a[p * kGemmMr + i];
      for (int j = 0; j < kGemmNr; j++) acc[i][j] += ai * b[p * kGemmNr + j];
    }
  }
  for (int i = 0; i < mr; i++) {
    for (int j = 0; j < nr; j++) {
      if (accumulate) c[i * ldc + j] += acc[i][j];
      else c[i * ldc + j] = acc[i][j];
    }
  }
}

void SmallDot(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = j0; j < j1; j++) {
      float s = 0.f;
      for (int64_t p = 0; p < k; p++) s += Load(a, i * a.rs + p) * Load(b, p + j * b.cs);
      c[i * ldc + j] = s;
    }
}

void SmallAxpy(const Operand& a, const Operand& b, int64_t m, int64_t k, int64_t j0, int64_t j1, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    float* ci = c + i * ldc;
    for (int64_t j = j0; j < j1; j++) ci[j] = 0.f;
    for (int64_t p = 0; p < k; p++) {
      const float av = Load(a, i * a.rs + p);
      for (int64_t j = j0; j < j1; j++) ci[j] += av * Load(b, p * b.rs + j);
    }
  }
}

}  // namespace

const GemmKernels kGemmPlain = {PackA, PackB, Kernel, SmallDot, SmallAxpy};

}  // namespace cpu
}  // namespace bminf
