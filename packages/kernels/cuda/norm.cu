// Row-wise ops: layerNorm (LayerNorm with mean subtraction, or RMS norm), the norm fused with the int8
// quantize that follows it, and softmax. One block per row (softmax_warp*: a warp); statistics in float32.

#define LAYERNORM_KERNEL(NAME, T)                                                                                 \
  extern "C" __global__ void layernorm_##NAME(const T* __restrict__ x, const T* __restrict__ w,                  \
                                              const T* __restrict__ b, int hasBias, T* __restrict__ out, int cols, \
                                              float eps, int subtractMean) { PDL_ENTRY();                                      \
    __shared__ float red[32];                                                                                     \
    const i64 base = (i64)blockIdx.x * cols;                                                                      \
    float mean = 0.f;                                                                                             \
    if (subtractMean) {                                                                                           \
      float s = 0.f;                                                                                              \
      for (int i = threadIdx.x; i < cols; i += blockDim.x) s += ld(x, base + i);                                  \
      mean = blockSum(s, red) / cols;                                                                             \
    }                                                                                                             \
    float v = 0.f;                                                                                                \
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {                                                        \
      const float d = ld(x, base + i) - mean;                                                                     \
      v += d * d;                                                                                                 \
    }                                                                                                             \
    const float inv = rsqrtf(blockSum(v, red) / cols + eps);                                                      \
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {                                                        \
      float y = (ld(x, base + i) - mean) * inv * ld(w, i);                                                        \
      if (hasBias) y += ld(b, i);                                                                                 \
      st(out, base + i, y);                                                                                       \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(LAYERNORM_KERNEL)

// ---- float16 rows held in registers: layernorm8 and norm_quantize ---------------------------------------
// float16 rows whose length is a multiple of 8, 16-byte aligned (x, the norm's weight and bias, the
// output): one block per row, thread t holding the row's 16-byte vectors t + j * blockDim.x in registers
// (quantize_f16_fast's layout), so the row is read from memory once. layernorm8 writes the normalised
// row. norm_quantize quantizes it as quantize_f16_fast does (quantizeRegs) and writes only the int8
// values and the scale: the norm before an int8 linear and that linear's quantize in one pass, without
// the float16 row's round trip through memory. Both take the statistics (rowStats8) and round each
// element (normRow8, shared with the GEMV linears) with the same code in the same order, and the backend
// launches both with the same ITEMS and threads for a row length (rowVecLaunch), so norm_quantize gives
// exactly quantizeRows(layerNorm(x)) wherever layerNorm takes layernorm8.

// Row vectors t + j * blockDim.x below nvec into v (the others are left unset and never read).
template <int ITEMS>
__device__ __forceinline__ void loadRow8(const half_t* __restrict__ row, u32x4 (&v)[ITEMS], int nvec) {
  const u32x4* xr = reinterpret_cast<const u32x4*>(row);
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < nvec) v[j] = xr[i];
  }
}

// The row's {mean, 1 / rms} as layerNorm defines them: mean = sum / cols (subtractMean; 0 for RMS), then
// rsqrt(sum((x - mean)^2) / cols + eps). Each thread sums its own elements in order, then blockSum; the
// arithmetic is spelled out (_rn) so that no contraction choice of the compiler can differ between the
// two kernels. Every thread of the block calls it (block barriers).
template <int ITEMS>
__device__ __forceinline__ float2 rowStats8(const u32x4 (&v)[ITEMS], int nvec, int cols, float eps, bool subtractMean,
                                            float* red) {
  float mean = 0.f;
  if (subtractMean) {
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
      if (threadIdx.x + j * blockDim.x >= nvec) continue;
      const half_t* h = reinterpret_cast<const half_t*>(&v[j]);
#pragma unroll
      for (int e = 0; e < 8; e++) s = __fadd_rn(s, h2f(h[e]));
    }
    mean = __fdiv_rn(blockSum(s, red), (float)cols);
  }
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    if (threadIdx.x + j * blockDim.x >= nvec) continue;
    const half_t* h = reinterpret_cast<const half_t*>(&v[j]);
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const float d = __fsub_rn(h2f(h[e]), mean);
      ss = __fmaf_rn(d, d, ss);
    }
  }
  const float inv = rsqrtf(__fadd_rn(__fdiv_rn(blockSum(ss, red), (float)cols), eps));
  return make_float2(mean, inv);
}

// Row blockIdx.x of x, normalised in registers (v[j]: chunk threadIdx.x + j * blockDim.x): what
// layernorm8 stores and norm_quantize quantizes, so that both round every element alike.
template <int N>
__device__ __forceinline__ void normRowRegs(const half_t* __restrict__ x, const half_t* __restrict__ w,
                                            const half_t* __restrict__ b, int cols, float eps, int subtractMean,
                                            float* red, u32x4 (&v)[N]) {
  const int nvec = cols >> 3;
  loadRow8<N>(x + (i64)blockIdx.x * cols, v, nvec);
  const float2 stats = rowStats8<N>(v, nvec, cols, eps, subtractMean, red);
#pragma unroll
  for (int j = 0; j < N; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < nvec) v[j] = normRow8<2>(v[j], w, b, i, stats);
  }
}

// Launched with one block per row and rowVecLaunch's threads (ITEMS * threads >= cols / 8). RMS is
// NORM 2's formula with mean 0 (normRow8: the same bits as its RMS form), the bias optional in both.
#define ROW_NORM8_KERNELS(N)                                                                                       \
  extern "C" __global__ void layernorm8_f16_##N(const half_t* __restrict__ x, const half_t* __restrict__ w,       \
                                                const half_t* __restrict__ b, int hasBias, half_t* __restrict__ out, \
                                                int cols, float eps, int subtractMean) {                           \
    PDL_ENTRY();                                                                                                   \
    __shared__ float red[32];                                                                                      \
    u32x4 v[N];                                                                                                    \
    normRowRegs<N>(x, w, hasBias ? b : nullptr, cols, eps, subtractMean, red, v);                                  \
    u32x4* o = reinterpret_cast<u32x4*>(out + (i64)blockIdx.x * cols);                                             \
    _Pragma("unroll") for (int j = 0; j < N; j++) {                                                                \
      const int i = threadIdx.x + j * blockDim.x;                                                                  \
      if (i < (cols >> 3)) o[i] = v[j];                                                                            \
    }                                                                                                              \
  }                                                                                                                \
  extern "C" __global__ void norm_quantize_f16_##N(const half_t* __restrict__ x, const half_t* __restrict__ w,    \
                                                   const half_t* __restrict__ b, int hasBias,                      \
                                                   signed char* __restrict__ q, half_t* __restrict__ scales,       \
                                                   int cols, float eps, int subtractMean) {                        \
    PDL_ENTRY();                                                                                                   \
    __shared__ float red[32];                                                                                      \
    u32x4 v[N];                                                                                                    \
    normRowRegs<N>(x, w, hasBias ? b : nullptr, cols, eps, subtractMean, red, v);                                  \
    quantizeRegs<N>(v, cols >> 3, q + (i64)blockIdx.x * cols, scales + blockIdx.x, red);                           \
  }
ROW_NORM8_KERNELS(1)
ROW_NORM8_KERNELS(2)
ROW_NORM8_KERNELS(4)
ROW_NORM8_KERNELS(8)

// y = softmax(scale * x + bias) over each row of x [batch * rows, cols] (packed), with entries where
// col > row + causalOffset masked out when causal is set. biasMode: 0 none, 1 bias has x's shape,
// 2 bias is [rows, cols], broadcast over the batch. A row with every entry masked is all zeros.
#define SOFTMAX_KERNEL(NAME, T)                                                                                   \
  extern "C" __global__ void softmax_##NAME(const T* __restrict__ x, const T* __restrict__ bias, int biasMode,   \
                                            T* __restrict__ out, int rows, int cols, float scale, int causal,     \
                                            int causalOffset) { PDL_ENTRY();                                                   \
    __shared__ float red[32];                                                                                     \
    const i64 row = blockIdx.x;                                                                                   \
    const int r = (int)(row % rows);                                                                              \
    const i64 base = row * cols;                                                                                  \
    const i64 bbase = biasMode == 1 ? base : (i64)r * cols;                                                       \
    const int limit = causal ? min(cols, max(0, r + causalOffset + 1)) : cols;                                    \
    float m = -3.402823466e38f;                                                                                   \
    for (int i = threadIdx.x; i < limit; i += blockDim.x) {                                                       \
      float v = ld(x, base + i) * scale;                                                                          \
      if (biasMode) v += ld(bias, bbase + i);                                                                     \
      m = fmaxf(m, v);                                                                                            \
    }                                                                                                             \
    m = blockMax(m, red);                                                                                         \
    float s = 0.f;                                                                                                \
    for (int i = threadIdx.x; i < limit; i += blockDim.x) {                                                       \
      float v = ld(x, base + i) * scale;                                                                          \
      if (biasMode) v += ld(bias, bbase + i);                                                                     \
      s += expf(v - m);                                                                                           \
    }                                                                                                             \
    s = blockSum(s, red);                                                                                         \
    const float inv = s > 0.f ? 1.f / s : 0.f;                                                                    \
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {                                                        \
      float y = 0.f;                                                                                              \
      if (i < limit) {                                                                                            \
        float v = ld(x, base + i) * scale;                                                                        \
        if (biasMode) v += ld(bias, bbase + i);                                                                   \
        y = expf(v - m) * inv;                                                                                    \
      }                                                                                                           \
      st(out, base + i, y);                                                                                       \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(SOFTMAX_KERNEL)

// softmax for rows of at most 1024 columns, a warp per row: the row's scores stay in registers (32
// per lane at most), read once, and the max and sum are warp shuffles. The block-per-row kernel above
// read the row three times and met at two block barriers per row; at 64 heads x 512 x 512 (T5's
// encoder attention) it was latency-bound. Same function, same expressions; the sum's order differs.
// 256 threads per block, a row per warp.
#define SOFTMAX_WARP_KERNEL(NAME, T)                                                                              \
  extern "C" __global__ void softmax_warp_##NAME(const T* __restrict__ x, const T* __restrict__ bias,            \
                                                 int biasMode, T* __restrict__ out, i64 nrows, int rows, int cols, \
                                                 float scale, int causal, int causalOffset) { PDL_ENTRY();                      \
    const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);                                     \
    if (row >= nrows) return;                                                                                     \
    const int lane = threadIdx.x & 31;                                                                            \
    const int r = (int)(row % rows);                                                                              \
    const i64 base = row * cols;                                                                                  \
    const i64 bbase = biasMode == 1 ? base : (i64)r * cols;                                                       \
    const int limit = causal ? min(cols, max(0, r + causalOffset + 1)) : cols;                                    \
    float v[32];                                                                                                  \
    float m = -3.402823466e38f;                                                                                   \
    _Pragma("unroll") for (int j = 0; j < 32; j++) {                                                              \
      const int i = j * 32 + lane;                                                                                \
      v[j] = 0.f;                                                                                                 \
      if (i < limit) {                                                                                            \
        float t = ld(x, base + i) * scale;                                                                        \
        if (biasMode) t += ld(bias, bbase + i);                                                                   \
        v[j] = t;                                                                                                 \
        m = fmaxf(m, t);                                                                                          \
      }                                                                                                           \
    }                                                                                                             \
    m = warpMax(m);                                                                                               \
    float s = 0.f;                                                                                                \
    _Pragma("unroll") for (int j = 0; j < 32; j++) {                                                              \
      if (j * 32 + lane < limit) {                                                                                \
        v[j] = expf(v[j] - m);                                                                                    \
        s += v[j];                                                                                                \
      }                                                                                                           \
    }                                                                                                             \
    s = warpSum(s);                                                                                               \
    const float inv = s > 0.f ? 1.f / s : 0.f;                                                                    \
    _Pragma("unroll") for (int j = 0; j < 32; j++) {                                                              \
      const int i = j * 32 + lane;                                                                                \
      if (i < cols) st(out, base + i, i < limit ? v[j] * inv : 0.f);                                             \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(SOFTMAX_WARP_KERNEL)

// softmax_warp for float16 rows of at most 1024 columns, cols % 8 == 0 and 16-byte aligned rows: each
// lane loads 8 columns at a time (16 bytes; the kernel above loaded 2 bytes per lane and instruction,
// which held it at ~1.1 TB/s on T5's 64 x 512 x 512 encoder scores). Same expressions per element; the
// sum's order differs from softmax_warp's.
extern "C" __global__ void softmax_warp8_f16(const half_t* __restrict__ x, const half_t* __restrict__ bias, int biasMode,
                                             half_t* __restrict__ out, i64 nrows, int rows, int cols, float scale,
                                             int causal, int causalOffset) {
  PDL_ENTRY();
  const i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= nrows) return;
  const int lane = threadIdx.x & 31;
  const int r = (int)(row % rows);
  const i64 base = row * cols;
  const i64 bbase = biasMode == 1 ? base : (i64)r * cols;
  const int limit = causal ? min(cols, max(0, r + causalOffset + 1)) : cols;
  const u32x4* xr = reinterpret_cast<const u32x4*>(x + base);
  const u32x4* br = reinterpret_cast<const u32x4*>(bias + bbase);
  const int chunks = cols >> 3;
  float v[4][8];
  float m = -3.402823466e38f;
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const int c = j * 32 + lane;  // chunk: columns 8c..8c+7
    u32x4 xv = {0u, 0u, 0u, 0u}, bv = {0u, 0u, 0u, 0u};
    if (c < chunks) {
      xv = xr[c];
      if (biasMode) bv = br[c];
    }
    const half_t* xh = reinterpret_cast<const half_t*>(&xv);
    const half_t* bh = reinterpret_cast<const half_t*>(&bv);
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const int i = 8 * c + e;
      v[j][e] = 0.f;
      if (c < chunks && i < limit) {
        float t = h2f(xh[e]) * scale;
        if (biasMode) t += h2f(bh[e]);
        v[j][e] = t;
        m = fmaxf(m, t);
      }
    }
  }
  m = warpMax(m);
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < 4; j++)
#pragma unroll
    for (int e = 0; e < 8; e++)
      if (8 * (j * 32 + lane) + e < limit) {
        v[j][e] = expf(v[j][e] - m);
        s += v[j][e];
      }
  s = warpSum(s);
  const float inv = s > 0.f ? 1.f / s : 0.f;
  u32x4* orow = reinterpret_cast<u32x4*>(out + base);
#pragma unroll
  for (int j = 0; j < 4; j++) {
    const int c = j * 32 + lane;
    if (c >= chunks) continue;
    unsigned o[4];
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int i = 8 * c + 2 * e;
      const half_t lo = f2h(i < limit ? v[j][2 * e] * inv : 0.f);
      const half_t hi = f2h(i + 1 < limit ? v[j][2 * e + 1] * inv : 0.f);
      o[e] = (unsigned)lo | ((unsigned)hi << 16);
    }
    orow[c] = u32x4{o[0], o[1], o[2], o[3]};
  }
}
