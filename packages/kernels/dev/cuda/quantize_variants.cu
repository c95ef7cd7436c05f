// Float16 quantize kernels that were measured and not chosen, kept for benchmarks and their bit-exactness
// tests (as llm.c keeps dev/cuda/): the product runs quantize_f16_fast* (packages/kernels/cuda/quantize.cu).
// Compiled after prelude.cuh and quantize.cu, whose helpers (quant1, scaleOf, blockMax, quantizeRowVec)
// they use, by variants.mjs beside this file. Why they lost: packages/kernels/cuda/NOTES.md.

// 'block': one row per block, float absmax and the exact division for every element (the first version).
QUANT_VEC(1, vec, false)
QUANT_VEC(2, vec, false)
QUANT_VEC(4, vec, false)
QUANT_VEC(8, vec, false)

// 'pipelined': the same computation in a persistent grid (a few blocks per SM, each looping over rows),
// the next row's loads issued before the current row's reduction: loads keep flowing while other rows
// are being reduced and stored, instead of every block of a wave loading, then reducing, then storing
// in step.
template <int ITEMS>
__device__ __forceinline__ void loadRow(const u32x4* __restrict__ xr, int nvec, u32x4* v) {
#pragma unroll
  for (int j = 0; j < ITEMS; j++) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < nvec) v[j] = xr[i];
  }
}

template <int ITEMS>
__device__ __forceinline__ void quantizeRowsPipelined(const half_t* __restrict__ x, signed char* __restrict__ q,
                                                      half_t* __restrict__ scales, int rows, int cols) {
  __shared__ float red[32];
  const int nvec = cols >> 3;
  u32x4 cur[ITEMS], nxt[ITEMS];
  int row = blockIdx.x;
  if (row < rows) loadRow<ITEMS>(reinterpret_cast<const u32x4*>(x + (i64)row * cols), nvec, cur);
  for (; row < rows; row += gridDim.x) {
    const int next = row + gridDim.x;
    if (next < rows) loadRow<ITEMS>(reinterpret_cast<const u32x4*>(x + (i64)next * cols), nvec, nxt);
    float m = 0.f;
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
      if (threadIdx.x + j * blockDim.x < nvec) {
        const half_t* h = reinterpret_cast<const half_t*>(&cur[j]);
#pragma unroll
        for (int e = 0; e < 8; e++) m = fmaxf(m, fabsf(h2f(h[e])));
      }
    }
    m = blockMax(m, red);
    const half_t sh = scaleOf(m);
    const float s = h2f(sh);
    if (threadIdx.x == 0) scales[row] = sh;
    u32x2* qr = reinterpret_cast<u32x2*>(q + (i64)row * cols);
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
      const int i = threadIdx.x + j * blockDim.x;
      if (i < nvec) {
        const half_t* h = reinterpret_cast<const half_t*>(&cur[j]);
        u32x2 out;
        signed char* o = reinterpret_cast<signed char*>(&out);
#pragma unroll
        for (int e = 0; e < 8; e++) o[e] = quant1(h2f(h[e]), s);
        qr[i] = out;
      }
    }
#pragma unroll
    for (int j = 0; j < ITEMS; j++) cur[j] = nxt[j];
  }
}

#define QUANT_PIPE(N)                                                                                         \
  extern "C" __global__ void quantize_f16_pipe##N(const half_t* __restrict__ x, signed char* __restrict__ q, \
                                                  half_t* __restrict__ scales, int rows, int cols) {          \
    quantizeRowsPipelined<N>(x, q, scales, rows, cols);                                                       \
  }
QUANT_PIPE(1)
QUANT_PIPE(2)
QUANT_PIPE(4)
QUANT_PIPE(8)
