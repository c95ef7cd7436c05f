// Integer GEMM for a few rows of activations (decoding: 1 to 16 tokens): C[r, j] = sum_k A[r, k] B[j, k].
// A tensor-core GEMM wastes most of its tile on so few rows; this reads each weight row once, 16 bytes
// per lane, and multiplies with dp4a (four int8 products summed into an int32, exact), so it runs at
// the speed of reading the weights. Each warp computes four weight rows against every activation row;
// the activation rows (at most 16 x k bytes) are re-read from L1/L2 by every warp.
// Needs k % 16 == 0 and 16-byte aligned rows; n % 4 == 0 (as cublasLt's path does).

__device__ __forceinline__ int dp4a(unsigned a, unsigned b, int c) {
  int d;
  asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

__device__ __forceinline__ int warpSumInt(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <int R>
__device__ __forceinline__ void gemvI8(const signed char* __restrict__ A, const signed char* __restrict__ B,
                                       int* __restrict__ C, int rows, int n, int k) {
  const int warp = (int)((blockIdx.x * (i64)blockDim.x + threadIdx.x) >> 5);
  const int lane = threadIdx.x & 31;
  const int j0 = warp * 4;
  if (j0 >= n) return;
  const int kv = k >> 4;
  const u32x4* b0 = reinterpret_cast<const u32x4*>(B + (i64)j0 * k);
  int acc[R][4];
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int w = 0; w < 4; w++) acc[r][w] = 0;
#pragma unroll 2
  for (int i = lane; i < kv; i += 32) {
    u32x4 wv[4];
#pragma unroll
    for (int w = 0; w < 4; w++) wv[w] = b0[(i64)w * kv + i];
#pragma unroll
    for (int r = 0; r < R; r++) {
      if (r < rows) {
        const u32x4 x = reinterpret_cast<const u32x4*>(A + (i64)r * k)[i];
#pragma unroll
        for (int w = 0; w < 4; w++) {
          int a = acc[r][w];
          a = dp4a(x.x, wv[w].x, a);
          a = dp4a(x.y, wv[w].y, a);
          a = dp4a(x.z, wv[w].z, a);
          a = dp4a(x.w, wv[w].w, a);
          acc[r][w] = a;
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; r++) {
    if (r < rows) {
#pragma unroll
      for (int w = 0; w < 4; w++) {
        const int v = warpSumInt(acc[r][w]);
        if (lane == w) C[(i64)r * n + j0 + w] = v;
      }
    }
  }
}

#define GEMV_KERNEL(R)                                                                                            \
  extern "C" __global__ void igemv_r##R(const signed char* __restrict__ A, const signed char* __restrict__ B,    \
                                        int* __restrict__ C, int rows, int n, int k) {                            \
    gemvI8<R>(A, B, C, rows, n, k);                                                                               \
  }
GEMV_KERNEL(1)
GEMV_KERNEL(2)
GEMV_KERNEL(4)
GEMV_KERNEL(8)
GEMV_KERNEL(16)
