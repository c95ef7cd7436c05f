// quantizeRows and dequantize, exactly as BMInf (and the CPU backend) do them:
//   scale16 = half(absmax(row) / 127);  q = clamp(nearbyint(x / float(scale16)), -127, 127)
// with IEEE division (__fdiv_rn, never an approximate reciprocal) and round-half-to-even
// (rintf), so that the int8 values are bit-identical to the CPU's. A row whose scale is 0
// gets q = 0.

__device__ __forceinline__ signed char quant1(float x, float s) {
  if (s == 0.f) return 0;
  float v = rintf(__fdiv_rn(x, s));  // rint: to nearest, ties to even, as nearbyint on the CPU
  v = v > 127.f ? 127.f : (v < -127.f ? -127.f : v);
  return v == v ? (signed char)(int)v : 0;  // NaN -> 0, as on the CPU
}

__device__ __forceinline__ half_t scaleOf(float absmax) { return f2h(__fdiv_rn(absmax, 127.f)); }

// ---- The fast float16 path: the same results with about half the instructions per element ----------
// The kernels above spend ~20 instructions per element (an IEEE division is a reciprocal, Newton steps
// and a range check; rint, clamps, a NaN test and a float-to-int conversion at a quarter of the issue
// rate), which on an H100 is as long as moving the element's 3 bytes: they are partly bound by issue,
// not memory. Here each element is multiplied by r = 1/s (rounded once per row), rounded with the
// 1.5 * 2^23 trick (an add that rounds to nearest even, whose low mantissa byte is the int8), and the
// exact division is taken only where it could decide otherwise:
//   for |x/s| < 256, t = RN(x * RN(1/s)) is within 2^-15 of x/s, and RN(x/s) (what the CPU rounds) within
//   2^-16; so when t is more than 0.0005 away from a half-integer both round to the same integer.
// Near a half-integer (ties such as x = 2.5 s), for NaN, and for s = inf, the exact quant1 decides.
// |x/s| < 256 holds because s = half(absmax / 127) is at least absmax / 190.5 (float16 rounding, its
// subnormals included; s = 0 is handled per row), so |x| <= absmax <= 190.5 s.
#define QMAGIC 12582912.f  // 1.5 * 2^23: x + QMAGIC rounds x to an integer in the low mantissa bits

// Max of |h| over the two halves of each word into m (two halves per instruction); NaN is skipped, as
// fmaxf and the CPU do (max.f16x2 without .NaN returns the other operand).
__device__ __forceinline__ unsigned absMax2(unsigned m, unsigned w) {
#if __CUDA_ARCH__ >= 800
  unsigned d;
  asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(m), "r"(w & 0x7fff7fffu));
  return d;
#else
  const float a = fmaxf(fmaxf(h2f((half_t)(m & 0xffff)), fabsf(h2f((half_t)(w & 0xffff)))),
                        fmaxf(h2f((half_t)(m >> 16)), fabsf(h2f((half_t)(w >> 16)))));
  const half_t ha = f2h(a);  // exact: a is one of the halves
  return (unsigned)ha | ((unsigned)ha << 16);
#endif
}
__device__ __forceinline__ float absMaxOf(unsigned m2) {
  return fmaxf(h2f((half_t)(m2 & 0xffff)), h2f((half_t)(m2 >> 16)));
}
__device__ __forceinline__ unsigned absMax8(unsigned m, const u32x4& v) {
  return absMax2(absMax2(absMax2(absMax2(m, v.x), v.y), v.z), v.w);
}

// Eight halves -> eight int8 (s > 0, r = RN(1/s)).
__device__ __forceinline__ u32x2 quant8(const u32x4& v, float s, float r) {
  const half_t* h = reinterpret_cast<const half_t*>(&v);
  float t[8];
  bool ok = true;
#pragma unroll
  for (int e = 0; e < 8; e++) {
    t[e] = __fmul_rn(h2f(h[e]), r);  // _rn: never contracted into the add below
    const float n = __fsub_rn(__fadd_rn(t[e], QMAGIC), QMAGIC);
    ok = ok && fabsf(__fsub_rn(t[e], n)) < 0.4995f;  // false near a half-integer and for NaN
  }
  u32x2 out;
  if (ok) {
    unsigned b[8];
#pragma unroll
    for (int e = 0; e < 8; e++) b[e] = __float_as_uint(__fadd_rn(fminf(fmaxf(t[e], -127.f), 127.f), QMAGIC)) & 0xffu;
    out.x = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
    out.y = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24);
  } else {
    signed char* o = reinterpret_cast<signed char*>(&out);
#pragma unroll
    for (int e = 0; e < 8; e++) o[e] = quant1(h2f(h[e]), s);
  }
  return out;
}

// The FAST path's scale and int8 values of one row already in registers: thread t holds the row's 16-byte
// vectors t + j * blockDim.x (v[j], those below nvec), as quantizeRowVec loads them. The absmax with
// max.f16x2 (absMax8), x * RN(1/s) with the exact division only near ties (quant8). q: the row's int8
// (8-byte aligned), *scale its float16 scale. Every thread of the block calls it (block barriers).
// Shared by quantize_f16_fast* and norm.cu's norm_quantize_f16* (the row normalised in registers).
template <int ITEMS>
__device__ __forceinline__ void quantizeRegs(const u32x4 (&v)[ITEMS], int nvec, signed char* __restrict__ q,
                                             half_t* __restrict__ scale, float* red) {
  unsigned m2 = 0;  // packed half2 absmax
#pragma unroll
  for (int j = 0; j < ITEMS; j++)
    if (threadIdx.x + j * blockDim.x < nvec) m2 = absMax8(m2, v[j]);
  const float m = blockMax(absMaxOf(m2), red);
  const half_t sh = scaleOf(m);
  const float s = h2f(sh);
  if (threadIdx.x == 0) *scale = sh;
  const float r = s == 0.f ? 0.f : __frcp_rn(s);
  u32x2* qr = reinterpret_cast<u32x2*>(q);
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < nvec) qr[i] = s == 0.f ? u32x2{0u, 0u} : quant8(v[j], s, r);
  }
}

// float16 rows whose length is a multiple of 8 and which start 16-byte aligned: one block per row,
// each thread keeps ITEMS vectors of 8 halves in registers, so the row is read from memory once and
// written once (3 bytes moved per element, as a copy of the same data would). FAST: quantizeRegs, the
// default; otherwise float absmax and the exact division everywhere (quant1), the first version,
// instantiated only in packages/kernels/dev/cuda/quantize_variants.cu as a measured alternative
// (NOTES.md). Both give the same bits.
template <int ITEMS, bool FAST>
__device__ __forceinline__ void quantizeRowVec(const half_t* __restrict__ x, signed char* __restrict__ q,
                                               half_t* __restrict__ scales, int cols) {
  __shared__ float red[32];
  const i64 row = blockIdx.x;
  const u32x4* xr = reinterpret_cast<const u32x4*>(x + row * cols);
  const int nvec = cols >> 3;
  u32x4 v[ITEMS];
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < nvec) v[j] = xr[i];
  }
  if constexpr (FAST) {
    quantizeRegs<ITEMS>(v, nvec, q + row * cols, scales + row, red);
    return;
  }
  float mf = 0.f;
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    if (threadIdx.x + j * blockDim.x < nvec) {
      const half_t* h = reinterpret_cast<const half_t*>(&v[j]);
#pragma unroll
      for (int e = 0; e < 8; e++) mf = fmaxf(mf, fabsf(h2f(h[e])));
    }
  }
  const float m = blockMax(mf, red);
  const half_t sh = scaleOf(m);
  const float s = h2f(sh);
  if (threadIdx.x == 0) scales[row] = sh;
  u32x2* qr = reinterpret_cast<u32x2*>(q + row * cols);
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i >= nvec) continue;
    const half_t* h = reinterpret_cast<const half_t*>(&v[j]);
    u32x2 out;
    signed char* o = reinterpret_cast<signed char*>(&out);
#pragma unroll
    for (int e = 0; e < 8; e++) o[e] = quant1(h2f(h[e]), s);
    qr[i] = out;
  }
}

#define QUANT_VEC(N, NAME, FAST)                                                                              \
  extern "C" __global__ void quantize_f16_##NAME##N(const half_t* __restrict__ x, signed char* __restrict__ q, \
                                                    half_t* __restrict__ scales, int rows, int cols) { PDL_ENTRY();         \
    quantizeRowVec<N, FAST>(x, q, scales, cols);                                                               \
  }
QUANT_VEC(1, fast, true)
QUANT_VEC(2, fast, true)
QUANT_VEC(4, fast, true)
QUANT_VEC(8, fast, true)

// Any float row at any alignment: two passes over the row (the second mostly from cache).
#define QUANT_GENERIC(NAME, T)                                                                                   \
  extern "C" __global__ void quantize_##NAME(const T* __restrict__ x, signed char* __restrict__ q,              \
                                             half_t* __restrict__ scales, int rows, int cols) { PDL_ENTRY();                  \
    __shared__ float red[32];                                                                                    \
    const i64 base = (i64)blockIdx.x * cols;                                                                     \
    float m = 0.f;                                                                                               \
    for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, fabsf(ld(x, base + i)));                   \
    m = blockMax(m, red);                                                                                        \
    const half_t sh = scaleOf(m);                                                                                \
    const float s = h2f(sh);                                                                                     \
    if (threadIdx.x == 0) scales[blockIdx.x] = sh;                                                               \
    for (int i = threadIdx.x; i < cols; i += blockDim.x) q[base + i] = quant1(ld(x, base + i), s);               \
  }
FOR_FLOAT_TYPES(QUANT_GENERIC)

// out[i, j] = acc[i, j] * rowScale[i] * colScale[j] (+ bias[j]), in float32, rounded once. The products
// are not fused into FMAs (__fmul_rn / __fadd_rn), to give the CPU's result.
#define DEQUANT(NAME, T)                                                                                          \
  extern "C" __global__ void dequantize_##NAME(const int* __restrict__ acc, const half_t* __restrict__ rs,        \
                                               const half_t* __restrict__ cs, const T* __restrict__ bias,         \
                                               int hasBias, T* __restrict__ out, int m, int n) { PDL_ENTRY();                  \
    const i64 total = (i64)m * n;                                                                                 \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (i64)gridDim.x * blockDim.x) {       \
      const int r = (int)(i / n), c = (int)(i - (i64)r * n);                                                      \
      float v = __fmul_rn(__fmul_rn((float)acc[i], h2f(rs[r])), h2f(cs[c]));                                      \
      if (hasBias) v = __fadd_rn(v, ld(bias, c));                                                                 \
      st(out, i, v);                                                                                              \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(DEQUANT)

// Four results at once: a 16-byte store of float32, an 8-byte store of float16.
__device__ __forceinline__ void st4(float* p, i64 i, const float* v) {
  f32x4 o = {v[0], v[1], v[2], v[3]};
  reinterpret_cast<f32x4*>(p)[i] = o;
}
__device__ __forceinline__ void st4(half_t* p, i64 i, const float* v) {
  u32x2 o;
  o.x = (unsigned)f2h(v[0]) | ((unsigned)f2h(v[1]) << 16);
  o.y = (unsigned)f2h(v[2]) | ((unsigned)f2h(v[3]) << 16);
  reinterpret_cast<u32x2*>(p)[i] = o;
}

// The same with 4 columns per thread (n % 4 == 0; acc 16-byte aligned, out 8-byte aligned): 16-byte
// loads of acc and one vector store per thread.
#define DEQUANT4(NAME, T)                                                                                         \
  extern "C" __global__ void dequantize4_##NAME(const int* __restrict__ acc, const half_t* __restrict__ rs,       \
                                                const half_t* __restrict__ cs, const T* __restrict__ bias,        \
                                                int hasBias, T* __restrict__ out, int m, int n) { PDL_ENTRY();                 \
    const i64 total4 = (i64)m * n / 4;                                                                            \
    const int n4 = n / 4;                                                                                         \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < total4; i += (i64)gridDim.x * blockDim.x) {      \
      const int r = (int)(i / n4), c = (int)(i - (i64)r * n4) * 4;                                                \
      const i32x4 a = reinterpret_cast<const i32x4*>(acc)[i];                                                     \
      const float s = h2f(rs[r]);                                                                                 \
      float v[4] = {(float)a.x, (float)a.y, (float)a.z, (float)a.w};                                              \
      _Pragma("unroll") for (int e = 0; e < 4; e++) {                                                             \
        v[e] = __fmul_rn(__fmul_rn(v[e], s), h2f(cs[c + e]));                                                     \
        if (hasBias) v[e] = __fadd_rn(v[e], ld(bias, c + e));                                                     \
      }                                                                                                           \
      st4(out, i, v);                                                                                             \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(DEQUANT4)

// float16 output, 8 columns per thread (n % 8 == 0; acc 16-byte aligned, out 16-byte aligned): blocks
// cover one row each in column chunks of 8 * blockDim.x, so the row and its scale are the block's (no
// division per element); per thread two 16-byte loads of acc, one of the column scales, one of the
// bias and one 16-byte store.
extern "C" __global__ void dequantize8_f16(const int* __restrict__ acc, const half_t* __restrict__ rs,
                                           const half_t* __restrict__ cs, const half_t* __restrict__ bias,
                                           int hasBias, half_t* __restrict__ out, int m, int n) { PDL_ENTRY();
  const int chunks = (n / 8 + blockDim.x - 1) / blockDim.x;
  const int r = blockIdx.x / chunks;
  const int c = ((blockIdx.x - r * chunks) * blockDim.x + threadIdx.x) * 8;
  if (r >= m || c >= n) return;
  const i64 base = (i64)r * n + c;
  const i32x4 a0 = *reinterpret_cast<const i32x4*>(acc + base);
  const i32x4 a1 = *reinterpret_cast<const i32x4*>(acc + base + 4);
  dequant8Store(out + base, a0, a1, h2f(rs[r]), cs + c, hasBias ? bias + c : nullptr);
}
