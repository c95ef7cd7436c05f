// Shared helpers for bminf's kernels. These sources are compiled at run time by NVRTC and include no
// CUDA headers (a machine may have only the driver): float16 is `unsigned short` holding IEEE half
// bits, converted with the PTX cvt instructions (round to nearest even, as the CPU backend does).
typedef unsigned short half_t;
typedef long long i64;
// Vector types of our own (NVRTC programs see no vector_types.h): 16- and 8-byte accesses.
struct alignas(16) u32x4 { unsigned int x, y, z, w; };
struct alignas(8) u32x2 { unsigned int x, y; };
struct alignas(16) i32x4 { int x, y, z, w; };
struct alignas(16) f32x4 { float x, y, z, w; };

__device__ __forceinline__ float h2f(half_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ half_t f2h(float f) {
  half_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

// Loads and stores of the two float dtypes through float, so that one kernel body serves both.
__device__ __forceinline__ float ld(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld(const half_t* p, i64 i) { return h2f(p[i]); }
__device__ __forceinline__ void st(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st(half_t* p, i64 i, float v) { p[i] = f2h(v); }

__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide reductions (blockDim.x a multiple of 32, at most 1024). `red` holds 32 floats of shared
// memory; every thread gets the result.
__device__ __forceinline__ float blockMax(float v, float* red) {
  v = warpMax(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < warps ? red[lane] : -3.402823466e38f;
  return warpMax(v);
}
__device__ __forceinline__ float blockSum(float v, float* red) {
  v = warpSum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < warps ? red[lane] : 0.f;
  return warpSum(v);
}

#define FOR_FLOAT_TYPES(M) M(f32, float) M(f16, half_t)
