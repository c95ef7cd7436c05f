// The ops a planned step reads its changing state through (Backend.scatterRows, Backend.attendCache):
// where a token goes in a KV cache and how much of the cache a query sees come from tensors, so one
// captured graph serves every decode step.

// dst[index[i], :] = src[i, :] for src rows `srcStride` elements apart; indices outside [0, rowsDst)
// are skipped (the host checked them).
#define SCATTER_ROWS_KERNEL(BITS, T)                                                                             \
  extern "C" __global__ void scatter_rows_b##BITS(const T* __restrict__ src, i64 srcStride, T* __restrict__ dst, \
                                                  const int* __restrict__ index, int w, i64 rowsDst) { PDL_ENTRY();            \
    const int r = blockIdx.x;                                                                                     \
    const i64 to = index[r];                                                                                      \
    if (to < 0 || to >= rowsDst) return;                                                                          \
    for (int c = threadIdx.x; c < w; c += blockDim.x) dst[to * w + c] = src[(i64)r * srcStride + c];              \
  }
SCATTER_ROWS_KERNEL(16, unsigned short)
SCATTER_ROWS_KERNEL(32, unsigned int)

// One query per sequence over its cached keys and values: one block per (sequence b, head h). The
// scores of the L_b cached positions live in dynamic shared memory (slotRows floats); a warp scores one
// key at a time (lanes over the head dimension), the block takes max and sum, then thread groups of
// headDim threads each sum p_j v_j over every G-th key and the groups are added in shared memory.
// float32 throughout; bias[h, L-1-j] by distance from the query when hasBias. hasNew: the block first
// writes its head of rows newK[b], newV[b] (newStride apart) at cache position L-1 (attendCache's
// append), then reads the cache as usual (keys and values are not restrict: this kernel writes them).
#define ATTEND_CACHE_KERNEL(NAME, T)                                                                              \
  extern "C" __global__ void attend_cache_##NAME(const T* __restrict__ q, i64 qStride, T* keys, T* values,        \
                                                 const int* __restrict__ lengths,                                  \
                                                 const T* __restrict__ bias, int hasBias, T* __restrict__ out,     \
                                                 int heads, int headDim, int slotRows, float scale,                \
                                                 const T* __restrict__ newK, const T* __restrict__ newV,           \
                                                 i64 newStride, int hasNew) { PDL_ENTRY();                          \
    extern __shared__ float smem[];                                                                               \
    __shared__ float red[32];                                                                                     \
    __shared__ float qs[1024];                                                                                    \
    const int b = blockIdx.x / heads, h = blockIdx.x % heads;                                                     \
    const int width = heads * headDim;                                                                            \
    const int L = min(max(lengths[b], 0), slotRows);                                                              \
    const T* qrow = q + (i64)b * qStride + (i64)h * headDim;                                                      \
    T* orow = out + (i64)b * width + (i64)h * headDim;                                                            \
    if (L == 0) {                                                                                                 \
      for (int e = threadIdx.x; e < headDim; e += blockDim.x) st(orow, e, 0.f);                                   \
      return;                                                                                                     \
    }                                                                                                             \
    const i64 base = (i64)b * slotRows * width + (i64)h * headDim;                                                \
    if (hasNew)                                                                                                   \
      for (int e = threadIdx.x; e < headDim; e += blockDim.x) {                                                   \
        keys[base + (i64)(L - 1) * width + e] = newK[(i64)b * newStride + (i64)h * headDim + e];                  \
        values[base + (i64)(L - 1) * width + e] = newV[(i64)b * newStride + (i64)h * headDim + e];                \
      }                                                                                                           \
    for (int e = threadIdx.x; e < headDim; e += blockDim.x) qs[e] = ld(qrow, e);                                  \
    __syncthreads(); /* also: this block's cache writes are seen by its reads below */                          \
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;                          \
    for (int j = warp; j < L; j += warps) {                                                                       \
      const T* k = keys + base + (i64)j * width;                                                                  \
      float s = 0.f;                                                                                              \
      for (int e = lane; e < headDim; e += 32) s += qs[e] * ld(k, e);                                             \
      s = warpSum(s);                                                                                             \
      if (lane == 0) smem[j] = s * scale + (hasBias ? ld(bias, (i64)h * slotRows + (L - 1 - j)) : 0.f);           \
    }                                                                                                             \
    __syncthreads();                                                                                              \
    float m = -3.402823466e38f;                                                                                   \
    for (int j = threadIdx.x; j < L; j += blockDim.x) m = fmaxf(m, smem[j]);                                      \
    m = blockMax(m, red);                                                                                         \
    float sum = 0.f;                                                                                              \
    for (int j = threadIdx.x; j < L; j += blockDim.x) {                                                           \
      const float p = expf(smem[j] - m);                                                                          \
      smem[j] = p;                                                                                                \
      sum += p;                                                                                                   \
    }                                                                                                             \
    sum = blockSum(sum, red);                                                                                     \
    const float inv = 1.f / sum;                                                                                  \
    const int groups = headDim <= (int)blockDim.x ? (int)blockDim.x / headDim : 1;                                \
    const int g = threadIdx.x / headDim;                                                                          \
    float* part = qs; /* q is no longer needed: reused for the groups' partial sums */                           \
    __syncthreads();                                                                                              \
    for (int e0 = groups > 1 ? (int)threadIdx.x % headDim : (int)threadIdx.x; e0 < headDim;                       \
         e0 += groups > 1 ? headDim : blockDim.x) {                                                               \
      float acc = 0.f;                                                                                            \
      if (g < groups || groups == 1) {                                                                            \
        const int gg = groups > 1 ? g : 0;                                                                        \
        for (int j = gg; j < L; j += groups) acc += smem[j] * ld(values + base + (i64)j * width, e0);             \
      }                                                                                                           \
      if (groups == 1) {                                                                                          \
        st(orow, e0, acc * inv);                                                                                  \
      } else if (g < groups && g * headDim + e0 < 1024) {                                                         \
        part[g * headDim + e0] = acc;                                                                             \
      }                                                                                                           \
      if (groups > 1) break;                                                                                      \
    }                                                                                                             \
    if (groups > 1) {                                                                                             \
      __syncthreads();                                                                                            \
      for (int e = threadIdx.x; e < headDim; e += blockDim.x) {                                                   \
        float acc = 0.f;                                                                                          \
        for (int gg = 0; gg < groups; gg++) acc += part[gg * headDim + e];                                        \
        st(orow, e, acc * inv);                                                                                   \
      }                                                                                                           \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(ATTEND_CACHE_KERNEL)

// The end of attend_cache_f16v8 (and of its dev variants), after the block's value sums are in `part`
// (groups rows of headDim): splits == 1 writes the output row; else the block writes its partial (max m,
// sum, headDim sums) to `work` and the last block of pair bh to finish combines the splits and resets its
// counter. Every thread of the block calls it.
__device__ __forceinline__ void attendCombine(const float* part, int groups, int headDim, float m, float sum, int splits, int split,
                                              int bh, float* __restrict__ work, int* __restrict__ counters, half_t* __restrict__ orow) {
  __shared__ int last;
  if (splits == 1) {
    const float inv = 1.f / sum;
    for (int e = threadIdx.x; e < headDim; e += blockDim.x) {
      float t = 0.f;
      for (int gg = 0; gg < groups; gg++) t += part[gg * headDim + e];
      orow[e] = f2h(t * inv);
    }
    return;
  }
  // This split's partial result: m, l, then headDim sums (an empty split: m = -FLT_MAX, l = 0, zeros).
  float* mine = work + ((i64)bh * splits + split) * (headDim + 2);
  if (threadIdx.x == 0) {
    mine[0] = m;
    mine[1] = sum;
  }
  for (int e = threadIdx.x; e < headDim; e += blockDim.x) {
    float t = 0.f;
    for (int gg = 0; gg < groups; gg++) t += part[gg * headDim + e];
    mine[2 + e] = t;
  }
  __threadfence();  // the partial is visible device-wide before this block counts itself done
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&counters[bh], 1) == splits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  const float* all = work + (i64)bh * splits * (headDim + 2);
  float M = -3.402823466e38f;
  for (int s = 0; s < splits; s++) M = fmaxf(M, __ldcg(all + s * (headDim + 2)));
  float total = 0.f;
  for (int s = 0; s < splits; s++) total += __ldcg(all + s * (headDim + 2) + 1) * expf(__ldcg(all + s * (headDim + 2)) - M);
  const float inv = 1.f / total;
  for (int e = threadIdx.x; e < headDim; e += blockDim.x) {
    float t = 0.f;
    for (int s = 0; s < splits; s++) {
      const float* ps = all + s * (headDim + 2);
      t += __ldcg(ps + 2 + e) * expf(__ldcg(ps) - M);
    }
    orow[e] = f2h(t * inv);
  }
  if (threadIdx.x == 0) counters[bh] = 0;
}

// attendCache for float16 heads of a multiple of 8 dimensions (at most 256), keys and values 16-byte
// aligned: the same function with the work spread for latency, since a decode step has few blocks.
// Each thread scores whole keys (16-byte loads, eight in flight at once) instead of a warp per key; then
// each thread sums p_j·v_j for one 8-wide column chunk over every G-th key (G = 256 / (D/8) groups, four
// keys' loads in flight), and the groups are added in shared memory. 256 threads per block.
// Split over the cache (flash-decoding) where (sequence, head) pairs alone would leave SMs idle: block
// (b, h, s) of `splits` takes keys [s·chunk, (s+1)·chunk) of the L_b cached, writes its max, sum and
// unnormalised p·v to `work`, and the last block of (b, h) to finish (a counter per pair, which that
// block sets back to 0, so the counters stay zero between launches and graph replays) rescales and adds
// them: out = Σ_s acc_s·e^(m_s−M) / Σ_s l_s·e^(m_s−M). splits == 1 writes out directly.
// hasNew (attendCache's append): position L-1 is read from newK[b], newV[b] (rows newStride apart), and
// the block whose range holds it writes its head of them into the cache through keysOut / valuesOut
// (the same buffers; no block of this launch reads that row from the cache).
// blk: this block's index (blockIdx.x in the kernel; decode_phases' block there, phases.cu). COH: q and the
// appended row are read with coherent loads (ldAct), as decode_phases needs for what an earlier phase wrote.
template <bool COH>
__device__ __forceinline__ void attendCacheV8(const half_t* __restrict__ q, i64 qStride, const half_t* __restrict__ keys,
                                              const half_t* __restrict__ values, const int* __restrict__ lengths,
                                              const half_t* __restrict__ bias, int hasBias, half_t* __restrict__ out,
                                              int heads, int headDim, int slotRows, float scale,
                                              const half_t* __restrict__ newK, const half_t* __restrict__ newV, i64 newStride,
                                              int hasNew, half_t* keysOut, half_t* valuesOut, int splits, int chunk,
                                              float* __restrict__ work, int* __restrict__ counters, int blk) {
  extern __shared__ float sc[];
  __shared__ float red[32];
  __shared__ float qs[256];
  __shared__ float part[2048];
  const int bh = blk / splits, split = blk % splits;
  const int b = bh / heads, h = bh % heads;
  const int width = heads * headDim, chunks = headDim >> 3;
  const int L = min(max(lengths[b], 0), slotRows);
  const half_t* qrow = q + (i64)b * qStride + (i64)h * headDim;
  half_t* orow = out + (i64)b * width + (i64)h * headDim;
  if (L == 0) {  // every block of the pair sees it: none counts, one writes the zeros
    if (split == 0)
      for (int e = threadIdx.x; e < headDim; e += blockDim.x) orow[e] = 0;
    return;
  }
  const int j0 = min(split * chunk, L), j1 = min(j0 + chunk, L), n = j1 - j0;
  for (int e = threadIdx.x; e < headDim; e += blockDim.x) qs[e] = h2f(ldAct<COH>(qrow + e));
  __syncthreads();
  const i64 base = (i64)b * slotRows * width + (i64)h * headDim;
  const i64 newAt = (i64)b * newStride + (i64)h * headDim;
  if (hasNew && j0 <= L - 1 && L - 1 < j1)
    for (int e = threadIdx.x; e < headDim; e += blockDim.x) {
      keysOut[base + (i64)(L - 1) * width + e] = ldAct<COH>(newK + newAt + e);
      valuesOut[base + (i64)(L - 1) * width + e] = ldAct<COH>(newV + newAt + e);
    }
  float m = -3.402823466e38f;
  for (int jj = threadIdx.x; jj < n; jj += blockDim.x) {
    const int j = j0 + jj;
    const u32x4* k = reinterpret_cast<const u32x4*>(hasNew && j == L - 1 ? newK + newAt : keys + base + (i64)j * width);
    float s = 0.f;
    for (int c0 = 0; c0 < chunks; c0 += 8) {
      u32x4 v[8];
#pragma unroll
      for (int c = 0; c < 8; c++) v[c] = c0 + c < chunks ? ldAct<COH>(k + c0 + c) : u32x4{0u, 0u, 0u, 0u};
#pragma unroll
      for (int c = 0; c < 8; c++) {
        const half_t* hv = reinterpret_cast<const half_t*>(&v[c]);
        if (c0 + c < chunks)
#pragma unroll
          for (int e = 0; e < 8; e++) s += qs[(c0 + c) * 8 + e] * h2f(hv[e]);
      }
    }
    s = s * scale + (hasBias ? h2f(bias[(i64)h * slotRows + (L - 1 - j)]) : 0.f);
    sc[jj] = s;
    m = fmaxf(m, s);
  }
  m = blockMax(m, red);
  float sum = 0.f;
  for (int jj = threadIdx.x; jj < n; jj += blockDim.x) {
    const float p = expf(sc[jj] - m);
    sc[jj] = p;
    sum += p;
  }
  sum = blockSum(sum, red);  // its barriers also order the sc writes before the reads below
  const int groups = blockDim.x / chunks, g = threadIdx.x / chunks, c = threadIdx.x % chunks;
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (g < groups) {
    const u32x4* vcol = reinterpret_cast<const u32x4*>(values + base) + c;
    const u32x4* vnew = reinterpret_cast<const u32x4*>(newV + newAt) + c;  // position L-1 when hasNew
    const i64 rowVec = width >> 3;
    for (int jj = g; jj < n; jj += 4 * groups) {
      u32x4 v[4];
#pragma unroll
      for (int t = 0; t < 4; t++) {
        const int j = j0 + jj + t * groups;
        v[t] = jj + t * groups >= n ? u32x4{0u, 0u, 0u, 0u} : hasNew && j == L - 1 ? ldAct<COH>(vnew) : vcol[(i64)j * rowVec];
      }
#pragma unroll
      for (int t = 0; t < 4; t++) {
        if (jj + t * groups < n) {
          const half_t* hv = reinterpret_cast<const half_t*>(&v[t]);
          const float p = sc[jj + t * groups];
#pragma unroll
          for (int e = 0; e < 8; e++) acc[e] += p * h2f(hv[e]);
        }
      }
    }
#pragma unroll
    for (int e = 0; e < 8; e++) part[g * headDim + c * 8 + e] = acc[e];
  }
  __syncthreads();
  attendCombine(part, groups, headDim, m, sum, splits, split, bh, work, counters, orow);
}
extern "C" __global__ void attend_cache_f16v8(const half_t* __restrict__ q, i64 qStride, const half_t* __restrict__ keys,
                                              const half_t* __restrict__ values, const int* __restrict__ lengths,
                                              const half_t* __restrict__ bias, int hasBias, half_t* __restrict__ out,
                                              int heads, int headDim, int slotRows, float scale,
                                              const half_t* __restrict__ newK, const half_t* __restrict__ newV, i64 newStride,
                                              int hasNew, half_t* keysOut, half_t* valuesOut, int splits, int chunk,
                                              float* __restrict__ work, int* __restrict__ counters) {
  PDL_ENTRY();
  attendCacheV8<false>(q, qStride, keys, values, lengths, bias, hasBias, out, heads, headDim, slotRows, scale, newK, newV, newStride,
                       hasNew, keysOut, valuesOut, splits, chunk, work, counters, blockIdx.x);
}

// argmaxRows: for each row of x [rows, n] float32, the lowest index of its largest value; NaN never
// wins, -1 where every value is NaN or -inf (the host's argmax, sampling-distribution.ts). One block
// per row; each thread scans its strided elements in increasing order (a strict > keeps the lowest
// index), then the candidates meet: the larger value, the lower index on equal values. Column `exclude`
// (-1: none) is never chosen.
__device__ __forceinline__ bool argmaxBetter(float v, int i, float bv, int bi) {
  return i >= 0 && (bi < 0 || v > bv || (v == bv && i < bi));
}
extern "C" __global__ void argmax_rows_f32(const float* __restrict__ x, int* __restrict__ out, int n, int exclude) {
  PDL_ENTRY();
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = x + (i64)blockIdx.x * n;
  float bv = __int_as_float(0xff800000);  // -inf: never beaten by -inf or NaN
  int bi = -1;
  if ((n & 3) == 0 && (reinterpret_cast<size_t>(x) & 15) == 0) {
    // 16-byte loads, four consecutive elements a thread in increasing order (a vocabulary of 26 240 is
    // 7 rounds of loads for 1 024 threads, not 26)
    const f32x4* row4 = reinterpret_cast<const f32x4*>(row);
    for (int i4 = threadIdx.x; i4 < (n >> 2); i4 += blockDim.x) {
      const f32x4 v4 = row4[i4];
      const float vs[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int i = 4 * i4 + e;
        if (vs[e] > bv && i != exclude) {
          bv = vs[e];
          bi = i;
        }
      }
    }
  } else {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const float v = row[i];
      if (v > bv && i != exclude) {
        bv = v;
        bi = i;
      }
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (argmaxBetter(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) {
    sv[warp] = bv;
    si[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; w++)
      if (argmaxBetter(sv[w], si[w], bv, bi)) {
        bv = sv[w];
        bi = si[w];
      }
    out[blockIdx.x] = bi;
  }
}
