// Integer GEMM for a few rows of activations (decoding: 1 to 8 tokens): C[r, j] = sum_k A[r, k] B[j, k].
// A tensor-core GEMM wastes most of its tile on so few rows; this reads each weight row once, 16 bytes
// per lane, and multiplies with dp4a (four int8 products summed into an int32, exact), so it runs at
// the speed of reading the weights. Each block computes four weight rows against every activation row;
// the activation rows (at most 8 x k bytes) are re-read from L2 by every block.
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

// One block of 256 threads per group of 4 weight rows, the k dimension split over all its threads (so
// that even 4096 output features make 1024 blocks with several 16-byte loads in flight per thread);
// partial sums are reduced within each warp, then across the 8 warps in shared memory.
template <int R>
__device__ __forceinline__ void gemvI8(const signed char* __restrict__ A, const signed char* __restrict__ B,
                                       int* __restrict__ C, int rows, int n, int k) {
  __shared__ int part[8][R * 4];
  const int j0 = blockIdx.x * 4;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kv = k >> 4;
  const u32x4* b0 = reinterpret_cast<const u32x4*>(B + (i64)j0 * k);
  int acc[R][4];
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int w = 0; w < 4; w++) acc[r][w] = 0;
  for (int i = threadIdx.x; i < kv; i += blockDim.x) {
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
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int w = 0; w < 4; w++) {
      const int v = warpSumInt(acc[r][w]);
      if (lane == 0) part[warp][r * 4 + w] = v;
    }
  __syncthreads();
  if (threadIdx.x < R * 4) {
    const int r = threadIdx.x >> 2, w = threadIdx.x & 3;
    int v = 0;
#pragma unroll
    for (int q = 0; q < 8; q++) v += part[q][threadIdx.x];
    if (r < rows) C[(i64)r * n + j0 + w] = v;
  }
}

// Launched with 256 threads per block and n / 4 blocks.
#define GEMV_KERNEL(R)                                                                                            \
  extern "C" __global__ void igemv_r##R(const signed char* __restrict__ A, const signed char* __restrict__ B,    \
                                        int* __restrict__ C, int rows, int n, int k) {                            \
    gemvI8<R>(A, B, C, rows, n, k);                                                                               \
  }
GEMV_KERNEL(1)
GEMV_KERNEL(2)
GEMV_KERNEL(4)
GEMV_KERNEL(8)
