// Dev variant of attend_cache_f16v8 (packages/kernels/cuda/step.cu), kept out of the product: it reads
// ahead, and lost on the GPU (CPM-2 24 + 24 on an H100, profile-cpm2 --variants, 2026-12-05: batch 1 at
// 341 tokens/s against 352-360 for the plain kernel, batch 8 2 087 against 2 123-2 126; NOTES.md). Kept
// as the CPU emulator's (dev/emu) check that a reordering of the plain kernel's loads keeps its bits.
// Built after step.cu, whose helpers it uses.
// attend_cache_f16v8 for launches whose blocks are all resident at once (attendCacheKernel: at most 3 an
// SM, CPM-2 at batch 1 to 4). With so few blocks, every round trip to memory that waits for the one
// before it shows in the step's time (a microsecond or so each, 2 attention kernels in each of 24 layers),
// and the kernel above makes four: the length, then q, then the keys, then the values. Here the loads
// whose addresses do not depend on the length go out together, first: the length, q, this thread's
// first key, its first four value rows (positions past the length are read from the slot, which holds
// them, and dropped) and the appended row (into shared memory, for whichever thread holds position
// L-1); only the bias waits for the length. The sums are formed in the same order, so the results are
// the same bits (dev/emu's attention check). 80 registers: 3 blocks an SM.
extern "C" __global__ void __launch_bounds__(256, 3)
    attend_cache_f16v8_ahead(const half_t* __restrict__ q, i64 qStride, const half_t* __restrict__ keys,
                                              const half_t* __restrict__ values, const int* __restrict__ lengths,
                                              const half_t* __restrict__ bias, int hasBias, half_t* __restrict__ out,
                                              int heads, int headDim, int slotRows, float scale,
                                              const half_t* __restrict__ newK, const half_t* __restrict__ newV, i64 newStride,
                                              int hasNew, half_t* keysOut, half_t* valuesOut, int splits, int chunk,
                                              float* __restrict__ work, int* __restrict__ counters) {
  PDL_ENTRY();
  extern __shared__ float sc[];
  __shared__ float red[32];
  __shared__ float qs[256];
  __shared__ float part[2048];
  __shared__ u32x4 newRow[2][32];
  const u32x4 zero = {0u, 0u, 0u, 0u};
  const int bh = blockIdx.x / splits, split = blockIdx.x % splits;
  const int b = bh / heads, h = bh % heads;
  const int width = heads * headDim, chunks = headDim >> 3;
  const half_t* qrow = q + (i64)b * qStride + (i64)h * headDim;
  half_t* orow = out + (i64)b * width + (i64)h * headDim;
  const i64 base = (i64)b * slotRows * width + (i64)h * headDim;
  const i64 newAt = (i64)b * newStride + (i64)h * headDim;
  const i64 rowVec = width >> 3;
  // This thread's parts of the score and value passes, as they will be if the range is not empty (then
  // it starts at split·chunk): key jA, and value rows vA + t·groups of column chunk c.
  const int groups = blockDim.x / chunks, g = threadIdx.x / chunks, c = threadIdx.x % chunks;
  const int jA = split * chunk + threadIdx.x, vA = split * chunk + g;
  // ---- the loads that do not depend on the length, all in flight at once
  const int rawL = lengths[b];
  const half_t qh = threadIdx.x < headDim ? qrow[threadIdx.x] : (half_t)0;
  u32x4 kA[8], vAhead[4], kNewT = zero, vNewT = zero;
  {
    const bool ok = threadIdx.x < chunk && jA < slotRows;
    const u32x4* k = reinterpret_cast<const u32x4*>(keys + base + (i64)jA * width);
#pragma unroll
    for (int cc = 0; cc < 8; cc++) kA[cc] = ok && cc < chunks ? k[cc] : zero;
    const u32x4* vcol = reinterpret_cast<const u32x4*>(values + base) + c;
#pragma unroll
    for (int t = 0; t < 4; t++) {
      const int r = g + t * groups;
      vAhead[t] = g < groups && r < chunk && vA + t * groups < slotRows ? vcol[(i64)(vA + t * groups) * rowVec] : zero;
    }
  }
  // the appended row (chunk t of its key and value by thread t), through shared memory to whichever
  // thread turns out to hold position L-1
  if (hasNew && (int)threadIdx.x < chunks) {
    kNewT = reinterpret_cast<const u32x4*>(newK + newAt)[threadIdx.x];
    vNewT = reinterpret_cast<const u32x4*>(newV + newAt)[threadIdx.x];
  }
  const int L = min(max(rawL, 0), slotRows);
  if (L == 0) {  // every block of the pair sees it: none counts, one writes the zeros
    if (split == 0)
      for (int e = threadIdx.x; e < headDim; e += blockDim.x) orow[e] = 0;
    return;
  }
  const int j0 = min(split * chunk, L), j1 = min(j0 + chunk, L), n = j1 - j0;
  const float biasA = hasBias && threadIdx.x < n ? h2f(bias[(i64)h * slotRows + (L - 1 - (j0 + (int)threadIdx.x))]) : 0.f;
  if (threadIdx.x < headDim) qs[threadIdx.x] = h2f(qh);
  if (hasNew && (int)threadIdx.x < chunks) {
    newRow[0][threadIdx.x] = kNewT;
    newRow[1][threadIdx.x] = vNewT;
  }
  __syncthreads();
  if (hasNew && j0 <= L - 1 && L - 1 < j1)
    for (int e = threadIdx.x; e < headDim; e += blockDim.x) {
      keysOut[base + (i64)(L - 1) * width + e] = newK[newAt + e];
      valuesOut[base + (i64)(L - 1) * width + e] = newV[newAt + e];
    }
  // q·k of key j0 + jj, chunks c0..c0+7 of it in v
  auto dot8 = [&](const u32x4 (&v)[8], int c0, float s) {
#pragma unroll
    for (int cc = 0; cc < 8; cc++) {
      const half_t* hv = reinterpret_cast<const half_t*>(&v[cc]);
      if (c0 + cc < chunks)
#pragma unroll
        for (int e = 0; e < 8; e++) s += qs[(c0 + cc) * 8 + e] * h2f(hv[e]);
    }
    return s;
  };
  // the key's 8 chunks from c0: the appended row (from shared memory where it was read ahead), else the cache's
  auto load8 = [&](u32x4 (&v)[8], int j, int c0) {
    const bool isNew = hasNew && j == L - 1;
    const u32x4* k = reinterpret_cast<const u32x4*>(keys + base + (i64)j * width);
#pragma unroll
    for (int cc = 0; cc < 8; cc++) v[cc] = c0 + cc >= chunks ? zero : isNew ? newRow[0][c0 + cc] : k[c0 + cc];
  };
  float m = -3.402823466e38f;
  if ((int)threadIdx.x < n) {  // the first key, read ahead (chunks 0-7) into kA
    const int j = j0 + threadIdx.x;
    float s = 0.f;
    if (hasNew && j == L - 1) load8(kA, j, 0);
    s = dot8(kA, 0, s);
    for (int c0 = 8; c0 < chunks; c0 += 8) {
      u32x4 v[8];
      load8(v, j, c0);
      s = dot8(v, c0, s);
    }
    s = s * scale + biasA;
    sc[threadIdx.x] = s;
    m = fmaxf(m, s);
  }
  for (int jj = threadIdx.x + blockDim.x; jj < n; jj += blockDim.x) {
    const int j = j0 + jj;
    float s = 0.f;
    for (int c0 = 0; c0 < chunks; c0 += 8) {
      u32x4 v[8];
      load8(v, j, c0);
      s = dot8(v, c0, s);
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
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (g < groups) {
    const u32x4* vcol = reinterpret_cast<const u32x4*>(values + base) + c;
    for (int jj = g; jj < n; jj += 4 * groups) {
      u32x4 v[4];
#pragma unroll
      for (int t = 0; t < 4; t++) {
        const int j = j0 + jj + t * groups;
        v[t] = jj + t * groups >= n ? zero : hasNew && j == L - 1 ? newRow[1][c] : jj == g ? vAhead[t] : vcol[(i64)j * rowVec];
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
