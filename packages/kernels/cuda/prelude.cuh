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

// GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x / (1 + e^(-2u)),
// the same function without the cancellation of 1 + tanh(u) for negative u (there tanhf's last bits
// were a 1 % error: gelu(-4.72) = -1.42e-6), and the form the CPU's vector GELU takes. One definition
// for the gelu kernel and the gated linear's epilogue (gemv.cu, gelu_mul), so that both round alike.
__device__ __forceinline__ float geluTanh(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x / (1.f + expf(-2.f * u));
}

// Loads and stores of the two float dtypes through float, so that one kernel body serves both.
__device__ __forceinline__ float ld(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld(const half_t* p, i64 i) { return h2f(p[i]); }
__device__ __forceinline__ void st(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st(half_t* p, i64 i, float v) { p[i] = f2h(v); }

// The int8 linear layer's dequantize of 8 consecutive outputs of one row: (float(acc) * rowScale) *
// colScale[j] (+ bias[j]), each product rounded to float32 as the CPU does (no FMA), then once to
// float16. colScale and bias 16-byte aligned; bias may be null.
__device__ __forceinline__ void dequant8(half_t (&h)[8], i32x4 a0, i32x4 a1, float rowScale, const half_t* colScale,
                                        const half_t* bias) {
  const u32x4 cv = *reinterpret_cast<const u32x4*>(colScale);
  u32x4 bv = {0u, 0u, 0u, 0u};
  if (bias) bv = *reinterpret_cast<const u32x4*>(bias);
  const int av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
  const half_t* ch = reinterpret_cast<const half_t*>(&cv);
  const half_t* bh = reinterpret_cast<const half_t*>(&bv);
#pragma unroll
  for (int e = 0; e < 8; e++) {
    float v = __fmul_rn(__fmul_rn((float)av[e], rowScale), h2f(ch[e]));
    if (bias) v = __fadd_rn(v, h2f(bh[e]));
    h[e] = f2h(v);
  }
}

// 8 float16 outputs with the residual added where given (16-byte aligned, the outputs' own 8 entries):
// half(residual + y) as add(residual, y) rounds it; one 16-byte store.
__device__ __forceinline__ void store8(half_t* dst, half_t (&h)[8], const half_t* residual) {
  if (residual) {
    const u32x4 rv = *reinterpret_cast<const u32x4*>(residual);
    const half_t* rh = reinterpret_cast<const half_t*>(&rv);
#pragma unroll
    for (int e = 0; e < 8; e++) h[e] = f2h(__fadd_rn(h2f(rh[e]), h2f(h[e])));
  }
  u32x4 ov;
  unsigned* o = reinterpret_cast<unsigned*>(&ov);
#pragma unroll
  for (int e = 0; e < 4; e++) o[e] = (unsigned)h[2 * e] | ((unsigned)h[2 * e + 1] << 16);
  *reinterpret_cast<u32x4*>(dst) = ov;
}

// dequant8, then where asked the ops that follow a linear, each rounding to float16 as the op alone
// does: gelu, half(geluTanh(y)) as gelu() rounds it; then the residual (store8). dst 16-byte aligned.
// Shared by the dequantize kernel (quantize.cu) and the Hopper GEMM's fused epilogue (igemm_sm90.cu).
__device__ __forceinline__ void dequant8Store(half_t* dst, i32x4 a0, i32x4 a1, float rowScale, const half_t* colScale,
                                             const half_t* bias, bool gelu = false, const half_t* residual = nullptr) {
  half_t h[8];
  dequant8(h, a0, a1, rowScale, colScale, bias);
  if (gelu)
#pragma unroll
    for (int e = 0; e < 8; e++) h[e] = f2h(geluTanh(h2f(h[e])));
  store8(dst, h, residual);
}

// The gated FFN's 8 outputs from the sums of their in rows (a) and gate rows (g) of a stacked [in; gate]
// weight: half(half(gelu(in)) * gate) as gelu then mul (or gelu_mul) round it, then the residual (store8).
// wsIn / biasIn and wsGate / biasGate: the scales and biases of the 8 in rows and of their gate rows.
__device__ __forceinline__ void gatedStore8(half_t* dst, i32x4 a0, i32x4 a1, i32x4 g0, i32x4 g1, float rowScale,
                                           const half_t* wsIn, const half_t* wsGate, const half_t* biasIn,
                                           const half_t* biasGate, const half_t* residual) {
  half_t h[8], g[8];
  dequant8(h, a0, a1, rowScale, wsIn, biasIn);
  dequant8(g, g0, g1, rowScale, wsGate, biasGate);
#pragma unroll
  for (int e = 0; e < 8; e++) h[e] = f2h(__fmul_rn(h2f(f2h(geluTanh(h2f(h[e])))), h2f(g[e])));
  store8(dst, h, residual);
}

// Chunk i (8 halves v) of a row normalised with its stats {mean, 1 / rms}, rounded to float16 as layerNorm
// rounds it (the GEMV linears' fused norm, norm.cu's layernorm8 and norm_quantize share it, so that all
// round each element alike):
// RMS half(x·inv·w); LayerNorm half((x − mean)·inv·w (+ b)). normW, normB: [k] float16 (normB may be null).
// NORM 2 with mean 0 and no normB gives NORM 1's bits (x − 0 is x exactly, -0 included).
template <int NORM>
__device__ __forceinline__ u32x4 normRow8(u32x4 v, const half_t* __restrict__ normW, const half_t* __restrict__ normB,
                                          int i, float2 stats) {
  if (!NORM) return v;
  const float mean = stats.x, inv = stats.y;
  const u32x4 g = reinterpret_cast<const u32x4*>(normW)[i];
  const half_t* h = reinterpret_cast<const half_t*>(&v);
  const half_t* gh = reinterpret_cast<const half_t*>(&g);
  u32x4 bvec = {0u, 0u, 0u, 0u};
  if (NORM == 2 && normB) bvec = reinterpret_cast<const u32x4*>(normB)[i];
  const half_t* bh = reinterpret_cast<const half_t*>(&bvec);
  auto one = [&](int e) -> half_t {
    if (NORM == 1) return f2h(__fmul_rn(__fmul_rn(h2f(h[e]), inv), h2f(gh[e])));
    float y = __fmul_rn(__fmul_rn(__fsub_rn(h2f(h[e]), mean), inv), h2f(gh[e]));
    if (normB) y = __fadd_rn(y, h2f(bh[e]));
    return f2h(y);
  };
  unsigned o[4];
#pragma unroll
  for (int e = 0; e < 4; e++) o[e] = (unsigned)one(2 * e) | ((unsigned)one(2 * e + 1) << 16);
  return u32x4{o[0], o[1], o[2], o[3]};
}

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

// Programmatic dependent launch (sm_90+; the backend launches its kernels as dependents there). PDL_TRIGGER
// lets the next kernel in the stream start its blocks while this one's last blocks still run; PDL_WAIT
// waits until the kernel before this one has finished and its writes are visible. Every kernel of this
// module begins with PDL_ENTRY (the GEMV linears first issue their weight loads, which no kernel writes,
// then wait), so nothing is read or written before the previous kernel is done: a dependent launch
// overlaps launch latency and prologues, never data. No-ops for ordinary launches and below sm_90.
#if __CUDA_ARCH__ >= 900
#define PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define PDL_TRIGGER()
#define PDL_WAIT()
#endif
// A hint that brings the line holding p into L1 (no register, no wait): for operands that no kernel writes
// (a norm's weights), requested before PDL_ENTRY so that the first use after it does not wait on L2.
__device__ __forceinline__ void prefetchL1(const void* p) { asm volatile("prefetch.global.L1 [%0];" ::"l"(p)); }

// A 16-byte load of weights, which a kernel reads once. `stream` != 0: past L1 (no_allocate), so that the
// weights streaming through do not push out of it what the kernel reads again (the activation rows that
// the GEMV linears' quantize phase reads two or three times). RoutePolicy.weightsPastL1.
__device__ __forceinline__ u32x4 ldWeights(const u32x4* p, int stream) {
  if (!stream) return *p;
  u32x4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

#define PDL_ENTRY() \
  PDL_TRIGGER();    \
  PDL_WAIT()
// Where a kernel body starts reading what earlier work wrote, as a functor: PDL_ENTRY in a kernel of its own;
// decode_phases (phases.cu) passes its grid barrier instead, so that one body serves both.
struct PdlEntry {
  __device__ __forceinline__ void operator()() const { PDL_ENTRY(); }
};

// Loads of activations. COH = false: as written (the compiler may read a const __restrict__ operand through
// the non-coherent path, which is right when no kernel writes it while the reader runs). COH = true: a plain
// coherent load, for decode_phases, whose phases read what other blocks of the same launch wrote before a
// grid barrier (the non-coherent path may keep lines from before it).
template <bool COH>
__device__ __forceinline__ u32x4 ldAct(const u32x4* p) {
  if (!COH) return *p;
  u32x4 v;
  asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p) : "memory");
  return v;
}
template <bool COH>
__device__ __forceinline__ half_t ldAct(const half_t* p) {
  if (!COH) return *p;
  half_t v;
  asm volatile("ld.global.u16 %0, [%1];" : "=h"(v) : "l"(p) : "memory");
  return v;
}
