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
    PDL_ENTRY();                                                                                                  \
    gemvI8<R>(A, B, C, rows, n, k);                                                                               \
  }
GEMV_KERNEL(1)
GEMV_KERNEL(2)
GEMV_KERNEL(4)
GEMV_KERNEL(8)

// The whole int8 linear layer for a few rows (a decode step) in one kernel, bit for bit what
// quantizeRows + igemv + dequantize (+ add) compute: every block quantizes the activation rows into
// shared memory itself (they are a few KB, read from L2; each block then owns a strip of weight rows, so
// the grid stays about four blocks per SM and the re-quantization costs little), multiplies them with
// its weight rows by dp4a, and writes float16 outputs: half(acc·rowScale·colScale (+ bias)), then
// half(residual + that) where a residual is given (as add() rounds it). x [rows, k] float16 packed and
// 16-byte aligned, k % 16 == 0, n % 4 == 0; dynamic shared memory rows·k bytes.
//
// NORM: x is first normalised as layerNorm(x, normW, normB, eps) computes it, RMS (1) or with mean and
// bias (2) (rowNormStats, normRow8); the sums are added in another order, so the result equals the two
// ops up to that rounding. The normalised row is computed twice from x (for its
// absmax, then to quantize it) rather than kept: it is a few KB read from L1/L2.
// ACT 2 (GELU): out = half(gelu(y)) as gelu() rounds it, before the residual.
// ACT 1 (GATED): the weight is a gated FFN's stacked [in; gate] rows (n = 2f); each warp's 4 rows are in rows
// 2u, 2u+1 and gate rows f+2u, f+2u+1, and it writes out[:, 2u..2u+1] = half(half(gelu(in))·gate) as
// gelu() then mul() round them ([rows, f]; the residual, if any, is [rows, f] too).
// Each warp issues its first weight loads before the quantize phase (and, launched as a dependent,
// before the previous kernel has finished), so that they are in flight while the block normalises and
// quantizes its activations.
// The fused norm of the GEMV linears' quantize phase (linear_gemv and linear_mma share it). NORM: 0 none,
// 1 RMS, 2 LayerNorm with mean and optional bias. rowNormStats returns row r's {mean, 1 / rms} (mean 0
// for RMS; {0, 1} without a norm), `wpr` warps per row, thread t of its row's wpr * 32 striding over the
// row's nvec 16-byte chunks (`live`: r < rows); every thread of the block calls it (block barriers).
// The norm's weights (and bias) of chunks t, t + stride, … into L1: requested before PDL_ENTRY, as no kernel writes
// them, so that the quantize phase after it does not wait on L2 for them. normB may be null.
template <int NORM>
__device__ __forceinline__ void prefetchNormL1(const half_t* normW, const half_t* normB, int t, int stride, int nvec) {
  if (NORM)
    for (int i = t; i < nvec; i += stride) {
      prefetchL1(normW + 8 * (i64)i);
      if (NORM == 2 && normB) prefetchL1(normB + 8 * (i64)i);
    }
}

// A thread's share of a row's sum (rowSum8s) or of its squares about `mean` (rowSumSq8s): its chunks t,
// t + stride, … of 8 halves in order, each element added in turn.
template <bool COH>
__device__ __forceinline__ float rowSum8s(const u32x4* __restrict__ xr, int t, int stride, int nvec) {
  float sx = 0.f;
  for (int i = t; i < nvec; i += stride) {
    const u32x4 v = ldAct<COH>(xr + i);
    const half_t* h = reinterpret_cast<const half_t*>(&v);
#pragma unroll
    for (int e = 0; e < 8; e++) sx += h2f(h[e]);
  }
  return sx;
}
template <bool COH>
__device__ __forceinline__ float rowSumSq8s(const u32x4* __restrict__ xr, int t, int stride, int nvec, float mean) {
  float ss = 0.f;
  for (int i = t; i < nvec; i += stride) {
    const u32x4 v = ldAct<COH>(xr + i);
    const half_t* h = reinterpret_cast<const half_t*>(&v);
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const float xf = h2f(h[e]) - mean;  // RMS: mean = 0, x exactly
      ss += xf * xf;
    }
  }
  return ss;
}

template <int NORM, bool COH = false>
__device__ __forceinline__ float2 rowNormStats(const u32x4* __restrict__ xr, bool live, int t, int stride, int nvec,
                                               int k, float eps, int r, int wpr, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float inv = 1.f, mean = 0.f;
  if (NORM == 2) {  // LayerNorm: the mean first, as layerNorm computes it
    float sx = live ? rowSum8s<COH>(xr, t, stride, nvec) : 0.f;
    sx = warpSum(sx);
    if (lane == 0) red[warp] = sx;
    __syncthreads();
    float tot = 0.f;
    for (int w = r * wpr; w < (r + 1) * wpr; w++) tot += red[w];
    mean = tot / k;
    __syncthreads();  // red is written again below
  }
  if (NORM) {
    float ss = live ? rowSumSq8s<COH>(xr, t, stride, nvec, mean) : 0.f;
    ss = warpSum(ss);
    if (lane == 0) red[warp] = ss;
    __syncthreads();
    float tot = 0.f;
    for (int w = r * wpr; w < (r + 1) * wpr; w++) tot += red[w];
    inv = rsqrtf(tot / k + eps);
    __syncthreads();  // red is written again by the caller
  }
  return make_float2(mean, inv);
}

// Row r's absmax over the chunks row8(i) gives (its int8 scale is scaleOf of it, as quantizeRows takes it),
// with rowNormStats' layout of threads; every thread of the block calls it (one block barrier).
template <typename Row8>
__device__ __forceinline__ float rowAbsMax(Row8 row8, bool live, int t, int stride, int nvec, int r, int wpr,
                                               float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned m2 = 0;
  if (live)
    for (int i = t; i < nvec; i += stride) m2 = absMax8(m2, row8(i));
  const float wm = warpMax(absMaxOf(m2));
  if (lane == 0) red[warp] = wm;
  __syncthreads();
  float m = 0.f;
  for (int w = r * wpr; w < (r + 1) * wpr; w++) m = fmaxf(m, red[w]);
  return m;
}

// bid / nblk: this block's index and the blocks of the launch (blockIdx.x, gridDim.x in a kernel of its own;
// decode_phases' block and the phase's grid there). entry(): where the previous work's writes become visible.
template <int R, int NORM, int ACT, bool COH = false, typename Entry = PdlEntry>
__device__ __forceinline__ void linearGemv(const half_t* __restrict__ X, const signed char* __restrict__ W,
                                           const half_t* __restrict__ wScale, const half_t* __restrict__ bias,
                                           const half_t* __restrict__ residual, half_t* __restrict__ out, int rows,
                                           int n, int k, const half_t* __restrict__ normW, float eps,
                                           const half_t* __restrict__ normB, int ks, int stream, int bid, int nblk,
                                           Entry entry = Entry()) {
  constexpr bool GATED = ACT == 1, GELU = ACT == 2;
  extern __shared__ u32x4 xq[];  // R rows of k int8
  __shared__ float red[32];
  __shared__ float rowScale[R];
  __shared__ int part[2][8][R * 4];  // the k slices' sums (ks > 1), double-buffered: one barrier a round
  const int kv = k >> 4, nvec = k >> 3;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int units = n >> 2, f = n >> 1;
  // A block takes 8 / ks units (groups of 4 weight rows) a round, each unit's k split over ks neighbouring
  // warps: where the units alone would leave most warps of the GPU idle (4096 outputs: 1024 units), the
  // split keeps every SM streaming weights.
  const int upb = 8 / ks, slice = warp % ks, uw = warp / ks;
  const int base0 = bid * upb, ustride = nblk * upb;
  const int rounds = base0 < units ? (units - base0 + ustride - 1) / ustride : 0;
  // the weight row of a unit's w-th row (0..3)
  auto wrow = [&](int u, int w) -> int { return GATED ? (w < 2 ? 2 * u + w : f + 2 * u + w - 2) : 4 * u + w; };
  // P chunks of 32 lanes x 16 bytes per row in flight: wv[p][w] is chunk lane + 32 (P s + p) of row w
  constexpr int P = 2;
  // this warp's slice of k, in whole steps of 32 P chunks
  const int stepsAll = (kv + 32 * P - 1) / (32 * P), sPer = (stepsAll + ks - 1) / ks;
  const int sBeg = slice * sPer, sEnd = min(stepsAll, sBeg + sPer);
  u32x4 wv[P][4];
  auto loadStep = [&](int u, int s) {
#pragma unroll
    for (int w = 0; w < 4; w++) {
      const u32x4* b = reinterpret_cast<const u32x4*>(W + (i64)wrow(u, w) * k);
#pragma unroll
      for (int p = 0; p < P; p++) {
        const int i = lane + 32 * (P * s + p);
        wv[p][w] = i < kv ? ldWeights(b + i, stream) : u32x4{0u, 0u, 0u, 0u};
      }
    }
  };
  // The epilogue's operands of lane r * 4 + w (its weight row's scale and bias, and the residual it adds)
  // are loaded a round ahead, with the weights, not after the unit's sums, where each was one more round
  // trip to memory at the end of the kernel: the scale and bias (weights, which no kernel writes) before
  // PDL_ENTRY, the residual after it. CPM-2's batch-1 decode graph ran 4 % shorter (H100, NOTES.md).
  half_t epW = 0, epB = 0, epR = 0;  // for this round's unit
  half_t nxW = 0, nxB = 0, nxR = 0;  // for the next round's
  auto loadEpilogue = [&](int u, bool withResidual, half_t& ew, half_t& eb, half_t& er) {
    const int r = lane >> 2, w = lane & 3;
    if (lane >= R * 4 || u >= units) return;
    const int j = wrow(u, w);
    ew = wScale[j];
    if (bias) eb = bias[j];
    if (withResidual && residual && r < rows && (!GATED || w < 2))
      er = ldAct<COH>(residual + (GATED ? (i64)r * f + 2 * u + w : (i64)r * n + j));
  };
  if (rounds > 0 && base0 + uw < units && sBeg < sEnd) loadStep(base0 + uw, sBeg);
  if (rounds > 0) loadEpilogue(base0 + uw, false, epW, epB, epR);
  if (NORM) {  // the norm's weights (and bias) of this thread's chunks of the quantize phase below
    const int wpr = 8 / R, stride = wpr * 32, t = threadIdx.x - (warp / wpr) * stride;
    prefetchNormL1<NORM>(normW, normB, t, stride, nvec);
  }
  entry();  // the weights are in flight; what the previous kernel writes is read from here on
  if (rounds > 0 && residual) loadEpilogue(base0 + uw, true, epW, epB, epR);
  {
    // The rows are quantized side by side, 8 / R warps each (two barriers in all, not two per row).
    const int wpr = 8 / R, r = warp / wpr, t = threadIdx.x - r * wpr * 32, stride = wpr * 32;
    const u32x4* xr = reinterpret_cast<const u32x4*>(X + (i64)r * k);
    const float2 stats = rowNormStats<NORM, COH>(xr, r < rows, t, stride, nvec, k, eps, r, wpr, red);
    // 8 halves of row r from chunk i: x itself, or x normalised
    auto row8 = [&](int i) -> u32x4 { return normRow8<NORM>(ldAct<COH>(xr + i), normW, normB, i, stats); };
    const float m = rowAbsMax(row8, r < rows, t, stride, nvec, r, wpr, red);
    if (r < rows) {
      const float s = h2f(scaleOf(m));
      const float rc = s == 0.f ? 0.f : __frcp_rn(s);
      u32x2* qr = reinterpret_cast<u32x2*>(reinterpret_cast<signed char*>(xq) + (i64)r * k);
      for (int i = t; i < nvec; i += stride) qr[i] = s == 0.f ? u32x2{0u, 0u} : quant8(row8(i), s, rc);
      if (t == 0) rowScale[r] = s;
    }
  }
  __syncthreads();
  // Each warp owns 4 weight rows (and a slice of k) at a time, its lanes striding over the slice: the
  // sums are reduced inside the warp, then (ks > 1) over the unit's slices in shared memory. Every warp of
  // a block runs the block's rounds (the barrier), idle where its unit is past the end.
  for (int rd = 0, buf = 0; rd < rounds; rd++, buf ^= 1) {
    const int u = base0 + rd * ustride + uw;
    if (rd > 0) epW = nxW, epB = nxB, epR = nxR;
    const bool act = u < units && sBeg < sEnd;
    int acc[R][4];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int w = 0; w < 4; w++) acc[r][w] = 0;
    if (act)
      for (int s = sBeg; s < sEnd; s++) {
        if (s > sBeg) loadStep(u, s);
#pragma unroll
        for (int p = 0; p < P; p++) {
          const int i = lane + 32 * (P * s + p);
          if (i < kv) {
#pragma unroll
            for (int r = 0; r < R; r++) {
              if (r < rows) {
                const u32x4 x = xq[(i64)r * kv + i];
#pragma unroll
                for (int w = 0; w < 4; w++) {
                  int a = acc[r][w];
                  a = dp4a(x.x, wv[p][w].x, a);
                  a = dp4a(x.y, wv[p][w].y, a);
                  a = dp4a(x.z, wv[p][w].z, a);
                  a = dp4a(x.w, wv[p][w].w, a);
                  acc[r][w] = a;
                }
              }
            }
          }
        }
      }
    // the next round's first weights are in flight during the reductions and the epilogue below
    const int nu = u + ustride;
    if (rd + 1 < rounds && nu < units && sBeg < sEnd) loadStep(nu, sBeg);
    if (rd + 1 < rounds) loadEpilogue(nu, true, nxW, nxB, nxR);
    int mine = 0;  // lane r * 4 + w keeps the sum of row r, unit row w
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int w = 0; w < 4; w++) {
        const int v = warpSumInt(acc[r][w]);
        if (lane == r * 4 + w) mine = v;
      }
    if (ks > 1) {
      if (lane < R * 4) part[buf][warp][lane] = mine;
      __syncthreads();
      if (slice != 0 || !(u < units)) continue;
      mine = 0;
      if (lane < R * 4)
        for (int q = 0; q < ks; q++) mine += part[buf][warp + q][lane];
    } else if (!act) {
      continue;
    }
    const int r = lane >> 2, w = lane & 3, j = wrow(u, w);
    const bool ok = lane < R * 4 && r < rows;
    half_t h = 0;
    if (ok) {
      float y = __fmul_rn(__fmul_rn((float)mine, rowScale[r]), h2f(epW));
      if (bias) y = __fadd_rn(y, h2f(epB));
      h = f2h(y);
    }
    if (GATED) {
      // lanes w = 0, 1 hold in, lanes w = 2, 3 the matching gate
      const half_t g = (half_t)__shfl_down_sync(0xffffffffu, (unsigned)h, 2);
      if (ok && w < 2) {
        const int c = 2 * u + w;
        half_t o = f2h(__fmul_rn(h2f(f2h(geluTanh(h2f(h)))), h2f(g)));
        if (residual) o = f2h(__fadd_rn(h2f(epR), h2f(o)));
        out[(i64)r * f + c] = o;
      }
    } else if (ok) {
      if (GELU) h = f2h(geluTanh(h2f(h)));  // as gelu() rounds it
      if (residual) h = f2h(__fadd_rn(h2f(epR), h2f(h)));
      out[(i64)r * n + j] = h;
    }
  }
}

// Launched with 256 threads per block; ks (1, 2, 4, 8) warps share each unit's k.
// NORM: 0 none, 1 RMS (_norm), 2 LayerNorm with mean and optional bias (_ln); ACT: 0 none, 1 gated
// (_gated), 2 GELU of the output (_gelu, before the residual).
// The blocks of 256 threads that stay resident per SM, as the host sizes the grid (CudaBackend.linearGemv).
#define LINEAR_GEMV_RESIDENT(R) ((R) <= 4 ? 3 : 2)
#define LINEAR_GEMV_KERNEL(NAME, R, NORM, ACT)                                                                      \
  extern "C" __global__ void __launch_bounds__(256, LINEAR_GEMV_RESIDENT(R)) NAME(const half_t* __restrict__ X, const signed char* __restrict__ W,                 \
                                  const half_t* __restrict__ wScale, const half_t* __restrict__ bias, int hasBias,  \
                                  const half_t* __restrict__ residual, int hasResidual, half_t* __restrict__ out,   \
                                  int rows, int n, int k, const half_t* __restrict__ normW, float eps,              \
                                  const half_t* __restrict__ normB, int hasNormB, int ks, int stream) {              \
    linearGemv<R, NORM, ACT>(X, W, wScale, hasBias ? bias : nullptr, hasResidual ? residual : nullptr, out, rows,   \
                             n, k, normW, eps, hasNormB ? normB : nullptr, ks, stream, blockIdx.x, gridDim.x);       \
  }
#define LINEAR_GEMV_KERNELS(R)                                              \
  LINEAR_GEMV_KERNEL(linear_gemv_r##R, R, 0, 0)                             \
  LINEAR_GEMV_KERNEL(linear_gemv_norm_r##R, R, 1, 0)                        \
  LINEAR_GEMV_KERNEL(linear_gemv_gated_r##R, R, 0, 1)                       \
  LINEAR_GEMV_KERNEL(linear_gemv_norm_gated_r##R, R, 1, 1)                  \
  LINEAR_GEMV_KERNEL(linear_gemv_gelu_r##R, R, 0, 2)                        \
  LINEAR_GEMV_KERNEL(linear_gemv_norm_gelu_r##R, R, 1, 2)                   \
  LINEAR_GEMV_KERNEL(linear_gemv_ln_r##R, R, 2, 0)                          \
  LINEAR_GEMV_KERNEL(linear_gemv_ln_gated_r##R, R, 2, 1)                    \
  LINEAR_GEMV_KERNEL(linear_gemv_ln_gelu_r##R, R, 2, 2)
LINEAR_GEMV_KERNELS(1)
LINEAR_GEMV_KERNELS(2)
LINEAR_GEMV_KERNELS(4)
LINEAR_GEMV_KERNELS(8)

// ---- The same linear for 2-8 rows on the tensor cores ---------------------------------------------------
// linear_gemv's dp4a loop costs, per 16 weight bytes and activation row, four dp4a and a 16-byte shared
// load: at 8 rows that work, not the weight reads, set the decode step's pace (NOTES.md). Here one
// mma.sync.m16n8k32 (int8 in, int32 accumulators: exact, so the sums are those of the dp4a kernel and of
// the CPU) multiplies 16 weight rows by all 8 activation rows (rows beyond `rows` are padding whose
// outputs are never written) over 32 k.
//
// k is permuted identically in both operands so that each lane loads 16 contiguous bytes: per 64 bytes of
// k, lane (g = lane / 4, t = lane % 4) loads bytes 16t..16t+15 of weight rows g and g + 8 and of activation
// row g; its words 0-1 are the fragment's k = 4t.. and 16 + 4t.. of one mma, words 2-3 of the next.
// The activations are quantized into shared memory in that order (64-byte pieces of the 8 rows side by
// side, so a warp's fragment load is 512 contiguous bytes, free of bank conflicts).
//
// One block of NW warps per SM. They take `mt` tiles of 16 weight rows at a time, each tile's
// k split over NW / mt warps; the partial sums meet in shared memory (double-buffered: one barrier per
// group of tiles) and 128 threads per tile dequantize and write. Every block quantizes the activation
// rows itself (one block per SM: 8 x k float16 read from L2 per SM), after issuing its first weight loads.
// GATED: a tile is 8 in-rows (8u..8u+7) over their 8 gate rows (f + 8u..), so an output's in and gate sums
// are fragment neighbours. NORM, GATED, the dequantize and the residual as in linear_gemv, bit for bit.
// Needs k % 64 == 0, n % 16 == 0 (gated: f % 8 == 0), 16-byte aligned rows; dynamic shared memory
// 8 k + NW KiB bytes.
__device__ __forceinline__ void mmaS8(int* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The mma linears' epilogue (linear_mma, linear_mma_q) for fragment element q (0-3) of lane row gg in tile u,
// activation row r; sumAt(qq) is the element's integer sum (gated: qq = q + 2 its gate's). A tile is 16
// weight rows, or gated 8 in-rows (8u..) over their 8 gate rows (f + 8u..), whose element q < 2 writes
// output 8u + gg. half(acc·rowScale·wScale (+ bias)), then GELU or the gated GELU·gate, then the residual,
// each rounded as dequantize, gelu / gelu_mul and add round them.
template <int ACT, typename SumAt>
__device__ __forceinline__ void mmaTileEpilogue(SumAt sumAt, int q, int gg, int u, int r, float rowScale, const half_t* __restrict__ wScale,
                                                const half_t* __restrict__ bias, const half_t* __restrict__ residual, half_t* __restrict__ out,
                                                int n) {
  const int f = n >> 1;
  auto dq = [&](int v, int j) -> half_t {
    float y = __fmul_rn(__fmul_rn((float)v, rowScale), h2f(wScale[j]));
    if (bias) y = __fadd_rn(y, h2f(bias[j]));
    return f2h(y);
  };
  if (ACT == 1) {
    const int c = 8 * u + gg;
    const half_t hin = dq(sumAt(q), c), hg = dq(sumAt(q + 2), f + c);
    half_t o = f2h(__fmul_rn(h2f(f2h(geluTanh(h2f(hin)))), h2f(hg)));
    if (residual) o = f2h(__fadd_rn(h2f(residual[(i64)r * f + c]), h2f(o)));
    out[(i64)r * f + c] = o;
  } else {
    const int j = 16 * u + gg + (q >= 2 ? 8 : 0);
    half_t h = dq(sumAt(q), j);
    if (ACT == 2) h = f2h(geluTanh(h2f(h)));  // as gelu() rounds it
    if (residual) h = f2h(__fadd_rn(h2f(residual[(i64)r * n + j]), h2f(h)));
    out[(i64)r * n + j] = h;
  }
}

template <int NW, int NORM, int ACT>
__device__ __forceinline__ void linearMma(const half_t* __restrict__ X, const signed char* __restrict__ W,
                                          const half_t* __restrict__ wScale, const half_t* __restrict__ bias,
                                          const half_t* __restrict__ residual, half_t* __restrict__ out, int rows, int n,
                                          int k, const half_t* __restrict__ normW, float eps, const half_t* __restrict__ normB,
                                          int mt, int stream) {
  constexpr bool GATED = ACT == 1;
  extern __shared__ u32x4 mmaShared[];
  signed char* xq = reinterpret_cast<signed char*>(mmaShared);  // 8 rows x k int8, interleaved by 64 bytes
  int* part = reinterpret_cast<int*>(xq + 8 * (i64)k);     // [2][NW warps][128]
  __shared__ float red[32];
  __shared__ float rowScale[8];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
  const int f = n >> 1, tiles = n >> 4, groups = (tiles + mt - 1) / mt;
  const int S = NW / mt, steps = k >> 6, per = (steps + S - 1) / S;
  const int myTile = warp / S, slice = warp % S;
  const int s0 = slice * per, s1 = min(steps, s0 + per);
  constexpr int U = 8;  // 64-byte steps of k in flight per lane and row
  u32x4 wl[U], wh[U];
  auto load = [&](int u, int sb) {
    const int lo = GATED ? 8 * u + g : 16 * u + g, hi = GATED ? f + 8 * u + g : 16 * u + 8 + g;
    const u32x4* pl = reinterpret_cast<const u32x4*>(W + (i64)lo * k) + (lane & 3);
    const u32x4* ph = reinterpret_cast<const u32x4*>(W + (i64)hi * k) + (lane & 3);
#pragma unroll
    for (int q = 0; q < U; q++) {
      const int s = sb + q;
      wl[q] = s < s1 ? ldWeights(pl + 4 * s, stream) : u32x4{0u, 0u, 0u, 0u};
      wh[q] = s < s1 ? ldWeights(ph + 4 * s, stream) : u32x4{0u, 0u, 0u, 0u};
    }
  };
  int group = blockIdx.x;
  int u = group * mt + myTile;
  bool active = group < groups && u < tiles && s0 < s1;
  if (active) load(u, s0);
  PDL_ENTRY();  // the weights are in flight; what the previous kernel writes is read from here on
  {
    // Quantize: NW / 8 warps per row (rows beyond `rows` are left as they are: their products feed only
    // output columns that are never written).
    constexpr int WPR = NW / 8;
    const int r = warp / WPR, tt = threadIdx.x - r * WPR * 32, stride = WPR * 32, nvec = k >> 3;
    const u32x4* xr = reinterpret_cast<const u32x4*>(X + (i64)r * k);
    const float2 stats = rowNormStats<NORM>(xr, r < rows, tt, stride, nvec, k, eps, r, WPR, red);
    auto row8 = [&](int i) -> u32x4 { return normRow8<NORM>(xr[i], normW, normB, i, stats); };
    const float m = rowAbsMax(row8, r < rows, tt, stride, nvec, r, WPR, red);
    if (r < rows) {
      const float s = h2f(scaleOf(m));
      const float rc = s == 0.f ? 0.f : __frcp_rn(s);
      u32x2* qr = reinterpret_cast<u32x2*>(xq);
      // chunk i (k = 8i..8i+7) of row r at byte (8i / 64) 512 + 64 r + (8i % 64)
      for (int i = tt; i < nvec; i += stride)
        qr[(i >> 3) * 64 + r * 8 + (i & 7)] = s == 0.f ? u32x2{0u, 0u} : quant8(row8(i), s, rc);
      if (tt == 0) rowScale[r] = s;
    }
  }
  __syncthreads();
  int buf = 0;
  for (; group < groups; group += gridDim.x) {
    int acc[4] = {0, 0, 0, 0};
    if (active) {
      for (int sb = s0; sb < s1; sb += U) {
        if (sb != s0) load(u, sb);
#pragma unroll
        for (int q = 0; q < U; q++) {
          const int s = sb + q;
          if (s < s1) {
            const u32x4 xv = reinterpret_cast<const u32x4*>(xq + (i64)s * 512)[lane];
            mmaS8(acc, wl[q].x, wh[q].x, wl[q].y, wh[q].y, xv.x, xv.y);
            mmaS8(acc, wl[q].z, wh[q].z, wl[q].w, wh[q].w, xv.z, xv.w);
          }
        }
      }
    }
    // the next group's first weights are in flight during the reduction below
    const int ng = group + gridDim.x, nu = ng * mt + myTile;
    const bool nactive = ng < groups && nu < tiles && s0 < s1;
    if (nactive) load(nu, s0);
    int* pb = part + buf * (NW * 128);
    reinterpret_cast<i32x4*>(pb + warp * 128)[lane] = i32x4{acc[0], acc[1], acc[2], acc[3]};
    __syncthreads();
    // thread e of tile tt: fragment element e % 4 of lane e / 4 (row gg (+8 for elements 2, 3),
    // activation row 2 t2 + e % 2); NW / 4 tiles at a time
    for (int tt = threadIdx.x >> 7; tt < mt; tt += NW / 4) {
      const int e = threadIdx.x & 127, uu = group * mt + tt;
      const int l2 = e >> 2, q = e & 3, gg = l2 >> 2, r = 2 * (l2 & 3) + (q & 1);
      if (uu < tiles && r < rows && (!GATED || q < 2)) {
        auto sumAt = [&](int qq) {
          int v = 0;
          for (int s = 0; s < S; s++) v += pb[(tt * S + s) * 128 + l2 * 4 + qq];
          return v;
        };
        mmaTileEpilogue<ACT>(sumAt, q, gg, uu, r, rowScale[r], wScale, bias, residual, out, n);
      }
    }
    buf ^= 1;
    u = nu;
    active = nactive;
  }
}

// Launched with NW * 32 threads per block and at most one block per SM (min(SMs, tile groups) blocks).
// 16 warps: 128 registers a thread, so that the 4 steps of weights in flight per lane stay in registers
// (at 32 warps, 64 registers, NVRTC's build spilled them: 20-160 k local requests a call, NOTES.md).
#define LINEAR_MMA_KERNEL(NAME, NORM, ACT)                                                                          \
  extern "C" __global__ void __launch_bounds__(512, 1)                                                              \
      NAME(const half_t* __restrict__ X, const signed char* __restrict__ W, const half_t* __restrict__ wScale,      \
           const half_t* __restrict__ bias, int hasBias, const half_t* __restrict__ residual, int hasResidual,      \
           half_t* __restrict__ out, int rows, int n, int k, const half_t* __restrict__ normW, float eps,            \
           const half_t* __restrict__ normB, int hasNormB, int mt, int stream) {                                                \
    linearMma<16, NORM, ACT>(X, W, wScale, hasBias ? bias : nullptr, hasResidual ? residual : nullptr, out, rows, n, \
                             k, normW, eps, hasNormB ? normB : nullptr, mt, stream);                                        \
  }
LINEAR_MMA_KERNEL(linear_mma, 0, 0)
LINEAR_MMA_KERNEL(linear_mma_norm, 1, 0)
LINEAR_MMA_KERNEL(linear_mma_gated, 0, 1)
LINEAR_MMA_KERNEL(linear_mma_norm_gated, 1, 1)
LINEAR_MMA_KERNEL(linear_mma_gelu, 0, 2)
LINEAR_MMA_KERNEL(linear_mma_norm_gelu, 1, 2)
LINEAR_MMA_KERNEL(linear_mma_ln, 2, 0)
LINEAR_MMA_KERNEL(linear_mma_ln_gated, 2, 1)
LINEAR_MMA_KERNEL(linear_mma_ln_gelu, 2, 2)

// ---- The linear for 2-32 rows on the tensor cores, its activations quantized before it ---------------------
// linear_mma quantizes every activation row in every block: at 8 rows that is 64-160 KiB read from L2 per
// SM, as much as the weights it streams; at 32 rows it would be four times that, and the rows would not fit
// in shared memory at CPM-2's k = 10 240. With one quantize kernel before it instead, batch 8 decoded 13-22 %
// faster than with linear_mma (H100, NOTES.md): the product's route from 2 rows
// (RoutePolicy.mmaQuantizedMinRows). Here the rows come quantized (quantize_rows_gemv below, one kernel
// before: xq [rows, k] int8, xScale [rows] float16), and each warp reads from L2 only the k slice of them
// that it multiplies: its lanes load their mma fragments straight from xq, in linear_mma's order of k
// (lane (g, t): bytes 16t..16t+15 of each 64-byte step of row 8 nb + g), zeros for rows past `rows`.
// Each warp multiplies TW = 2 tiles of 16 weight rows with the same fragments of NB groups of 8 rows, so the
// activation bytes it reads are NB / 4 of the weight bytes it streams (1 at 32 rows: L2, not DRAM).
// One block of 16 warps an SM takes groups of TW tiles; a group's k is split over its 16 warps, whose
// partial sums meet in shared memory (double-buffered: one barrier a group) and are dequantized as
// linear_mma does (mmaTileEpilogue): half(acc·xScale·wScale (+ bias)), GELU or the gated GELU·gate, then the
// residual, so the bits are those of igemm + dequantize (+ gelu / gelu_mul, + add) on the same quantized rows. GATED: a tile is 8 in-rows over their 8
// gate rows (linear_mma's layout). Needs k % 64 == 0, n % 32 == 0 (gated: f % 16 == 0), xq, W and the
// output rows 16-byte aligned; dynamic shared memory 2 · 16 · TW · NB · 512 bytes.
template <int NB, int ACT>
__device__ __forceinline__ void linearMmaQ(const signed char* __restrict__ XQ, const half_t* __restrict__ xScale,
                                           const signed char* __restrict__ W, const half_t* __restrict__ wScale,
                                           const half_t* __restrict__ bias, const half_t* __restrict__ residual,
                                           half_t* __restrict__ out, int rows, int n, int k, int stream) {
  constexpr int NW = 16, TW = 2, U = 2;  // warps, tiles a warp, 64-byte steps of k in flight per lane
  constexpr bool GATED = ACT == 1;
  constexpr int E = TW * NB * 128;  // a group's sums
  extern __shared__ i32x4 mmaqPart[];  // [2][NW][TW * NB][32]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int f = n >> 1, groups = n / (16 * TW);
  const int steps = k >> 6;
  // A group a block at a time, its k steps split over the NW warps: this warp's range [s0, s1), the same for
  // every group.
  const int per = (steps + NW - 1) / NW;
  const int s0 = min(steps, warp * per), s1 = min(steps, s0 + per);
  const u32x4* px[NB];  // this lane's 16 bytes of each 64-byte step of activation row 8 nb + g
#pragma unroll
  for (int nb = 0; nb < NB; nb++) px[nb] = reinterpret_cast<const u32x4*>(XQ + (i64)min(8 * nb + g, rows - 1) * k) + t;
  u32x4 wv[U][TW][2], xv[U][NB];
  auto loadW = [&](int grp, int sb, int s1) {
#pragma unroll
    for (int tw = 0; tw < TW; tw++) {
      const int u = grp * TW + tw;
      const int lo = GATED ? 8 * u + g : 16 * u + g, hi = GATED ? f + 8 * u + g : 16 * u + 8 + g;
      const u32x4* pl = reinterpret_cast<const u32x4*>(W + (i64)lo * k) + t;
      const u32x4* ph = reinterpret_cast<const u32x4*>(W + (i64)hi * k) + t;
#pragma unroll
      for (int q = 0; q < U; q++) {
        const int s = sb + q;
        wv[q][tw][0] = s < s1 ? ldWeights(pl + 4 * s, stream) : u32x4{0u, 0u, 0u, 0u};
        wv[q][tw][1] = s < s1 ? ldWeights(ph + 4 * s, stream) : u32x4{0u, 0u, 0u, 0u};
      }
    }
  };
  auto loadX = [&](int sb, int s1) {
#pragma unroll
    for (int q = 0; q < U; q++)
#pragma unroll
      for (int nb = 0; nb < NB; nb++)
        xv[q][nb] = sb + q < s1 && 8 * nb + g < rows ? px[nb][4 * (sb + q)] : u32x4{0u, 0u, 0u, 0u};
  };
  if ((int)blockIdx.x < groups && s0 < s1) loadW(blockIdx.x, s0, s1);
  PDL_ENTRY();  // the weights are in flight; xq (the quantize kernel's) is read from here on
  int buf = 0;
  for (int grp = blockIdx.x; grp < groups; grp += gridDim.x) {
    int acc[TW][NB][4];
#pragma unroll
    for (int tw = 0; tw < TW; tw++)
#pragma unroll
      for (int nb = 0; nb < NB; nb++) acc[tw][nb][0] = acc[tw][nb][1] = acc[tw][nb][2] = acc[tw][nb][3] = 0;
    for (int sb = s0; sb < s1; sb += U) {
      if (sb != s0) loadW(grp, sb, s1);
      loadX(sb, s1);
#pragma unroll
      for (int q = 0; q < U; q++) {
        if (sb + q < s1) {
#pragma unroll
          for (int tw = 0; tw < TW; tw++)
#pragma unroll
            for (int nb = 0; nb < NB; nb++) {
              const u32x4 wl = wv[q][tw][0], wh = wv[q][tw][1], xx = xv[q][nb];
              mmaS8(acc[tw][nb], wl.x, wh.x, wl.y, wh.y, xx.x, xx.y);
              mmaS8(acc[tw][nb], wl.z, wh.z, wl.w, wh.w, xx.z, xx.w);
            }
        }
      }
    }
    // the next group's first weights are in flight during the reduction below
    const int next = grp + gridDim.x;
    if (next < groups && s0 < s1) loadW(next, s0, s1);
    i32x4* pb = mmaqPart + buf * (NW * TW * NB * 32);
#pragma unroll
    for (int tw = 0; tw < TW; tw++)
#pragma unroll
      for (int nb = 0; nb < NB; nb++)
        pb[(warp * TW * NB + tw * NB + nb) * 32 + lane] = i32x4{acc[tw][nb][0], acc[tw][nb][1], acc[tw][nb][2], acc[tw][nb][3]};
    __syncthreads();
    // element e of (tile tw, group nb): fragment element q = e % 4 of lane l2 = e / 4 (weight row gg, +8 for
    // q = 2, 3; activation row 8 nb + 2 (l2 % 4) + q % 2), summed over the warps
    auto decode = [&](int e, int& tw, int& nb, int& l2, int& q, int& gg, int& r) {
      tw = e / (NB * 128), nb = (e / 128) % NB, l2 = (e & 127) >> 2, q = e & 3;
      gg = l2 >> 2, r = 8 * nb + 2 * (l2 & 3) + (q & 1);
    };
    // element qq of (tw, nb, l2)'s fragment, summed over this block's warps
    auto warpsSum = [&](int tw, int nb, int l2, int qq) {
      int v = 0;
      for (int w = 0; w < NW; w++) v += reinterpret_cast<const int*>(&pb[(w * TW * NB + tw * NB + nb) * 32 + l2])[qq];
      return v;
    };
    for (int e = threadIdx.x; e < E; e += NW * 32) {
      int tw, nb, l2, q, gg, r;
      decode(e, tw, nb, l2, q, gg, r);
      if (r >= rows || (GATED && q >= 2)) continue;
      auto sumAt = [&](int qq) { return warpsSum(tw, nb, l2, qq); };
      mmaTileEpilogue<ACT>(sumAt, q, gg, grp * TW + tw, r, h2f(xScale[r]), wScale, bias, residual, out, n);
    }
    buf ^= 1;
  }
}

// The quantize before linear_mma_q: each row normalised (NORM as linear_gemv's) and quantized exactly as
// linear_gemv_*_r1's quantize phase does it, with the same functions over the same 256 threads a row
// (rowNormStats and rowAbsMax with 8 warps a row), so that a sequence decoding in a batch of 2-32 gets the
// bits it gets decoding alone: linear_gemv_r1 then, quantize_rows_gemv + linear_mma_q now, bit for bit.
// (norm_quantize, the three calls' norm, sums in another order.) One block of 256 threads a row; k % 8 == 0,
// x 16-byte aligned rows, xq 8-byte aligned rows; xScale the float16 scale of each row.
template <int NORM>
__device__ __forceinline__ void quantizeRowGemv(const half_t* __restrict__ X, signed char* __restrict__ xq, half_t* __restrict__ xScale,
                                                int k, const half_t* __restrict__ normW, float eps, const half_t* __restrict__ normB) {
  __shared__ float red[32];
  const int r = blockIdx.x, nvec = k >> 3;
  const u32x4* xr = reinterpret_cast<const u32x4*>(X + (i64)r * k);
  const float2 stats = rowNormStats<NORM>(xr, true, threadIdx.x, 256, nvec, k, eps, 0, 8, red);
  auto row8 = [&](int i) -> u32x4 { return normRow8<NORM>(xr[i], normW, normB, i, stats); };
  const float m = rowAbsMax(row8, true, threadIdx.x, 256, nvec, 0, 8, red);
  const half_t sh = scaleOf(m);
  const float s = h2f(sh);
  const float rc = s == 0.f ? 0.f : __frcp_rn(s);
  u32x2* qr = reinterpret_cast<u32x2*>(xq + (i64)r * k);
  for (int i = threadIdx.x; i < nvec; i += 256) qr[i] = s == 0.f ? u32x2{0u, 0u} : quant8(row8(i), s, rc);
  if (threadIdx.x == 0) xScale[r] = sh;
}
#define QUANTIZE_ROWS_GEMV_KERNEL(NAME, NORM)                                                                        \
  extern "C" __global__ void __launch_bounds__(256) NAME(const half_t* __restrict__ X, signed char* __restrict__ xq,  \
                                                         half_t* __restrict__ xScale, int k, const half_t* __restrict__ normW, \
                                                         float eps, const half_t* __restrict__ normB, int hasNormB) {  \
    prefetchNormL1<NORM>(normW, hasNormB ? normB : nullptr, threadIdx.x, 256, k >> 3);                               \
    PDL_ENTRY();                                                                                                      \
    quantizeRowGemv<NORM>(X, xq, xScale, k, normW, eps, hasNormB ? normB : nullptr);                                 \
  }
QUANTIZE_ROWS_GEMV_KERNEL(quantize_rows_gemv, 0)
QUANTIZE_ROWS_GEMV_KERNEL(quantize_rows_gemv_norm, 1)
QUANTIZE_ROWS_GEMV_KERNEL(quantize_rows_gemv_ln, 2)

// Launched with 512 threads and min(SMs, n / 32) blocks, one an SM. _b1: up to 8 rows, _b2: 9-16, _b4: 17-32.
#define LINEAR_MMA_Q_KERNEL(NAME, NB, ACT)                                                                          \
  extern "C" __global__ void __launch_bounds__(512, 1)                                                              \
      NAME(const signed char* __restrict__ XQ, const half_t* __restrict__ xScale, const signed char* __restrict__ W, \
           const half_t* __restrict__ wScale, const half_t* __restrict__ bias, int hasBias,                         \
           const half_t* __restrict__ residual, int hasResidual, half_t* __restrict__ out, int rows, int n, int k,   \
           int stream) {                                                                                            \
    linearMmaQ<NB, ACT>(XQ, xScale, W, wScale, hasBias ? bias : nullptr, hasResidual ? residual : nullptr, out,    \
                        rows, n, k, stream);                                                                        \
  }
#define LINEAR_MMA_Q_KERNELS(NB)                                  \
  LINEAR_MMA_Q_KERNEL(linear_mma_q_b##NB, NB, 0)                  \
  LINEAR_MMA_Q_KERNEL(linear_mma_q_gated_b##NB, NB, 1)            \
  LINEAR_MMA_Q_KERNEL(linear_mma_q_gelu_b##NB, NB, 2)
LINEAR_MMA_Q_KERNELS(1)
LINEAR_MMA_Q_KERNELS(2)
LINEAR_MMA_Q_KERNELS(4)
