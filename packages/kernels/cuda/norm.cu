// Row-wise ops: layerNorm (LayerNorm with mean subtraction, or RMS norm) and softmax. One block per
// row; statistics in float32.

#define LAYERNORM_KERNEL(NAME, T)                                                                                 \
  extern "C" __global__ void layernorm_##NAME(const T* __restrict__ x, const T* __restrict__ w,                  \
                                              const T* __restrict__ b, int hasBias, T* __restrict__ out, int cols, \
                                              float eps, int subtractMean) {                                      \
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

// y = softmax(scale * x + bias) over each row of x [batch * rows, cols] (packed), with entries where
// col > row + causalOffset masked out when causal is set. biasMode: 0 none, 1 bias has x's shape,
// 2 bias is [rows, cols], broadcast over the batch. A row with every entry masked is all zeros.
#define SOFTMAX_KERNEL(NAME, T)                                                                                   \
  extern "C" __global__ void softmax_##NAME(const T* __restrict__ x, const T* __restrict__ bias, int biasMode,   \
                                            T* __restrict__ out, int rows, int cols, float scale, int causal,     \
                                            int causalOffset) {                                                   \
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
