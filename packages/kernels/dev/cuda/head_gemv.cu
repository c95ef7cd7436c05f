// Dev candidate, not in the product yet: the output head's float16 product for a decode step's 1-8 rows,
// out[r, j] = half(Σ_k x[r, k] · w[j, k]) summed in float32 (what cublasLt's float16 GEMM with float32
// compute gives, up to the order of the sum). Op by op on the H200, the head of CPM-2 (26 240 x 4096
// float16, 215 MB) took 259 us through cublasLt at 1 row and 174 us at 8: 0.8-1.2 TB/s, where reading
// the weights once at the copy bandwidth takes ~55 us (packages/kernels/cuda/NOTES.md). Here each warp
// streams two weight rows, 16 bytes a lane, four steps in flight, against the activation rows staged in
// shared memory. W [n, k] and x [rows, k] packed, k % 8 == 0, 16-byte aligned; dynamic shared memory
// R · k · 2 bytes. head-gemv.mjs launches it; head-gemv.test.ts and bench-head-gemv.mjs decide whether
// the product's gemm should route small-m, transposed-B products to it.

__device__ __forceinline__ float dot8(u32x4 w, u32x4 x) {
  const half_t* wh = reinterpret_cast<const half_t*>(&w);
  const half_t* xh = reinterpret_cast<const half_t*>(&x);
  float s = 0.f;
#pragma unroll
  for (int e = 0; e < 8; e++) s = fmaf(h2f(wh[e]), h2f(xh[e]), s);
  return s;
}

template <int R>
__device__ __forceinline__ void headGemv(const half_t* __restrict__ X, const half_t* __restrict__ W, half_t* __restrict__ out,
                                         int rows, int n, int k) {
  extern __shared__ u32x4 xs[];  // R rows of k halves, 16 bytes an entry
  const int kv = k >> 3;
  const u32x4* x16 = reinterpret_cast<const u32x4*>(X);
  const u32x4* w16 = reinterpret_cast<const u32x4*>(W);
  PDL_ENTRY();
  for (int i = threadIdx.x; i < R * kv; i += blockDim.x) {
    const int r = i / kv;
    xs[i] = r < rows ? x16[(i64)r * kv + i % kv] : u32x4{0u, 0u, 0u, 0u};
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int j0 = (blockIdx.x * warps + warp) * 2; j0 < n; j0 += gridDim.x * warps * 2) {
    const bool two = j0 + 1 < n;
    const u32x4* a = w16 + (i64)j0 * kv;
    const u32x4* b = w16 + (i64)(two ? j0 + 1 : j0) * kv;
    float acc0[R], acc1[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = 0.f;
#pragma unroll 4
    for (int i = lane; i < kv; i += 32) {
      const u32x4 wa = a[i], wb = b[i];
#pragma unroll
      for (int r = 0; r < R; r++) {
        const u32x4 xv = xs[r * kv + i];
        acc0[r] += dot8(wa, xv);
        acc1[r] += dot8(wb, xv);
      }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
      const float s0 = warpSum(acc0[r]), s1 = warpSum(acc1[r]);
      if (lane == 0 && r < rows) {
        out[(i64)r * n + j0] = f2h(s0);
        if (two) out[(i64)r * n + j0 + 1] = f2h(s1);
      }
    }
  }
}

#define HEAD_GEMV_KERNEL(R)                                                                                         \
  extern "C" __global__ void __launch_bounds__(256) head_gemv_f16_r##R(const half_t* __restrict__ X,              \
                                                                      const half_t* __restrict__ W,              \
                                                                      half_t* __restrict__ out, int rows, int n, \
                                                                      int k) {                                    \
    headGemv<R>(X, W, out, rows, n, k);                                                                           \
  }
HEAD_GEMV_KERNEL(1)
HEAD_GEMV_KERNEL(2)
HEAD_GEMV_KERNEL(4)
HEAD_GEMV_KERNEL(8)
