// Backend.attention for float16 on the tensor cores (flash-attention 2 style): softmax(scale q kᵀ + bias,
// causal mask) v for a tile of 64 queries of one head, over the keys in tiles of 64, without writing the
// scores anywhere. Replaces gemm -> softmax -> gemm -> permute copy (4 kernels and two [heads, n, L]
// round trips through memory) for prefill and T5's encoder.
//
// Block = 4 warps = 64 query rows of one head; warp w owns rows 16w..16w+15 of the tile. Per key tile:
//   S = Q Kᵀ      mma.m16n8k16 (Q fragments in registers for the whole loop; K from shared memory as
//                 the col-major B operand, which is K's row-major layout: ldmatrix without .trans),
//   S = scale S + bias, masked (key >= L, key > query + causalOffset) to -inf,
//   online softmax in float32 (running max m and lane-partial sum l per row; o rescaled by e^(m_old - m)),
//   O += P V      P = e^(S - m) rounded to float16 and reused as the A operand straight from the S
//                 accumulators (their layouts coincide); V from shared memory via ldmatrix.trans.
// At the end O / l is written to out [n, heads * D] at column h * D (the permute the composition copied).
// A row with no visible key (l = 0) is written as zeros, as the CPU softmax does.
//
// Fragment layouts (m16n8k16 row.col, g = lane / 4, t = lane % 4; the lower half of each 32-bit register
// is the lower column index): A a0a1 = (row g, k 2t..2t+1), a2a3 = (row g+8, k 2t..), a4a5 = (row g,
// k 2t+8..), a6a7 = (row g+8, k 2t+8..); B b0b1 = (k 2t..2t+1, col g), b2b3 = (k 2t+8.., col g);
// C c0c1 = (row g, col 2t..2t+1), c2c3 = (row g+8, col 2t..). Hence S's n-tiles 2c and 2c+1 (keys
// 16c..16c+15) are exactly the A fragment of keys-chunk c of P v: {c0c1, c2c3} of 2c, then of 2c+1.
//
// Pipeline (cp.async, one K and one V buffer): K of tile j+1 is copied while tile j's softmax and P v
// run, V of tile j+1 while tile j+1's Q kᵀ runs. Groups are committed K0, V0, K1, V1, ... (empty ones
// past the end), so "wait until one group is left in flight" is always the buffer needed next.
//
// Needs sm_80 (cp.async, mma.m16n8k16 f32), D in {64, 80, 128}, q/k/v rows and head starts 16-byte
// aligned (strides multiples of 8 elements); bias rows with a unit last stride (2-byte loads; any row stride,
// -1 included). The host checks.

#define ATT_BM 64  // query rows per block
#define ATT_BN 64  // keys per tile
#define ATT_NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ unsigned sharedAddr(const void* p) {
  unsigned long long r;
  asm("cvta.to.shared.u64 %0, %1;" : "=l"(r) : "l"(p));
  return (unsigned)r;
}

#if __CUDA_ARCH__ >= 800
// 16 bytes global -> shared, bypassing L1; bytes < 16 zero-fills the rest (0: all zeros, nothing read).
__device__ __forceinline__ void cpAsync16(unsigned dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
__device__ __forceinline__ void cpAsyncWaitOne() { asm volatile("cp.async.wait_group 1;" ::: "memory"); }

__device__ __forceinline__ void ldsm4(unsigned* r, unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void ldsm4t(unsigned* r, unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
// c += a b, m16n8k16, float16 in, float32 accumulators.
__device__ __forceinline__ void mmaF16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Two floats to float16 (round to nearest even), lo in the lower half.
__device__ __forceinline__ unsigned packHalf2(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// Copies keys [k0, k0 + 64) of one head (rows `rs` elements apart) into a tile of shared memory, rows
// STRIDE halves apart; rows at or past L are zero-filled (V's must be: 0 · garbage could be NaN).
template <int D, int STRIDE>
__device__ __forceinline__ void loadTileAsync(half_t* tile, const half_t* __restrict__ src, i64 rs, int k0, int L) {
  constexpr int CHUNKS = D / 8;  // 16-byte pieces per row
  static_assert(ATT_BN * CHUNKS % 128 == 0, "a tile is a whole number of 16-byte pieces per thread");
  const unsigned base = sharedAddr(tile);
#pragma unroll
  for (int i = 0; i < ATT_BN * CHUNKS / 128; i++) {
    const int c = threadIdx.x + 128 * i;
    const int row = c / CHUNKS, col = (c % CHUNKS) * 8;
    const bool in = k0 + row < L;
    const half_t* g = in ? src + (i64)(k0 + row) * rs + col : src;
    cpAsync16(base + (unsigned)(row * STRIDE + col) * 2u, g, in ? 16 : 0);
  }
}

template <int D, bool KB>
__device__ __forceinline__ void attentionTile(const half_t* __restrict__ q, i64 qHs, i64 qRs, const half_t* __restrict__ k,
                                              i64 kHs, i64 kRs, const half_t* __restrict__ v, i64 vHs, i64 vRs,
                                              const half_t* __restrict__ bias, i64 bHs, i64 bRs, int hasBias,
                                              const half_t* __restrict__ keyBias, half_t* __restrict__ out, int n, int L, int heads, int qTiles, float scale,
                                              int causal, int causalOffset) {
  constexpr int STRIDE = D + 8;  // halves per shared row: 16 bytes of padding keep ldmatrix free of bank conflicts
  constexpr int KC = D / 16;     // 16-dim chunks of q·k
  constexpr int DT = D / 8;      // 8-dim n-tiles of the output
  constexpr float LOG2E = 1.4426950408889634f;
  __shared__ u32x4 sKraw[ATT_BN * STRIDE / 8];
  __shared__ u32x4 sVraw[ATT_BN * STRIDE / 8];
  half_t* sK = reinterpret_cast<half_t*>(sKraw);
  half_t* sV = reinterpret_cast<half_t*>(sVraw);

  // The last query tiles have the most keys under a causal mask: start them first.
  const int h = blockIdx.x / qTiles;
  const int qt = qTiles - 1 - (int)(blockIdx.x % qTiles);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int row0 = qt * ATT_BM + warp * 16 + g;  // this lane's rows: row0 and row0 + 8
  q += h * qHs;
  k += h * kHs;
  v += h * vHs;
  if (hasBias) bias += h * bHs;

  // Keys past the last visible one of the tile's last row are never loaded.
  int keyEnd = L;
  if (causal) keyEnd = max(0, min(L, min(n, (qt + 1) * ATT_BM) - 1 + causalOffset + 1));
  const int kTiles = (keyEnd + ATT_BN - 1) / ATT_BN;

  loadTileAsync<D, STRIDE>(sK, k, kRs, 0, keyEnd);
  cpAsyncCommit();
  loadTileAsync<D, STRIDE>(sV, v, vRs, 0, keyEnd);
  cpAsyncCommit();

  // Q's A fragments for every 16-dim chunk (rows past n are zeros and never written).
  unsigned qf[KC][4];
#pragma unroll
  for (int c = 0; c < KC; c++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int row = row0 + 8 * r;
      unsigned lo = 0u, hi = 0u;
      if (row < n) {
        const half_t* p = q + (i64)row * qRs + c * 16 + 2 * t;
        lo = *reinterpret_cast<const unsigned*>(p);
        hi = *reinterpret_cast<const unsigned*>(p + 8);
      }
      qf[c][r] = lo;      // a0a1 (r = 0) / a2a3 (r = 1): dims 2t, 2t+1
      qf[c][2 + r] = hi;  // a4a5 / a6a7: dims 2t+8, 2t+9
    }

  float o[DT][4];
#pragma unroll
  for (int d = 0; d < DT; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
  float m[2] = {ATT_NEG_INF, ATT_NEG_INF}, l[2] = {0.f, 0.f};

  // ldmatrix row addresses: lane supplies row (lane & 7) of matrix (lane >> 3).
  // K (no .trans): matrices {keys 16p..+7, dims 16c..+7}, {same keys, dims +8}, {keys +8, dims 16c..}, {keys +8, dims +8}
  //   -> b0b1, b2b3 of n-tile 2p, then of n-tile 2p+1.
  const unsigned kAddr = sharedAddr(sK) + (unsigned)(((lane >> 4) * 8 + (lane & 7)) * STRIDE + ((lane >> 3) & 1) * 8) * 2u;
  // V (.trans): matrices {keys 16c..+7, dims 16p..+7}, {keys +8, same dims}, {keys 16c.., dims +8}, {keys +8, dims +8}
  //   -> b0b1, b2b3 of output n-tile 2p, then of 2p+1.
  const unsigned vAddr = sharedAddr(sV) + (unsigned)((((lane >> 3) & 1) * 8 + (lane & 7)) * STRIDE + (lane >> 4) * 8) * 2u;

  for (int j = 0; j < kTiles; j++) {
    const int k0 = j * ATT_BN;
    cpAsyncWaitOne();  // K_j has landed (V_j may still be in flight)
    __syncthreads();

    // This lane's bias entries (pairs of keys 2t, 2t+1 of each n-tile, packed), loaded before the
    // products so that their latency hides behind them; the key bias's (KB) the same way, for both rows.
    unsigned bv[2][8], kv[8];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int row = row0 + 8 * r;
      const half_t* brow = bias + (i64)row * bRs + k0 + 2 * t;
      const int left = hasBias && row < n ? L - k0 - 2 * t : 0;  // entries of brow inside the row
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        const unsigned lo = nt * 8 < left ? brow[nt * 8] : 0u;
        const unsigned hi = nt * 8 + 1 < left ? brow[nt * 8 + 1] : 0u;
        bv[r][nt] = lo | hi << 16;
      }
    }
    if (KB) {
      const half_t* krow = keyBias + k0 + 2 * t;
      const int left = L - k0 - 2 * t;
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        const unsigned lo = nt * 8 < left ? krow[nt * 8] : 0u;
        const unsigned hi = nt * 8 + 1 < left ? krow[nt * 8 + 1] : 0u;
        kv[nt] = lo | hi << 16;
      }
    }

    float s[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
    for (int c = 0; c < KC; c++)
#pragma unroll
      for (int p = 0; p < 4; p++) {
        unsigned b[4];
        ldsm4(b, kAddr + (unsigned)(p * 16 * STRIDE + c * 16) * 2u);
        mmaF16(s[2 * p], qf[c], b[0], b[1]);
        mmaF16(s[2 * p + 1], qf[c], b[2], b[3]);
      }
    __syncthreads();  // every warp is done with sK
    if (j + 1 < kTiles) loadTileAsync<D, STRIDE>(sK, k, kRs, k0 + ATT_BN, keyEnd);
    cpAsyncCommit();

    // scale, bias, mask; then the online softmax of this lane's two rows (the quad's 4 lanes share a row).
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int row = row0 + 8 * r;
      // keys k0 + 2t + i with i < visible are visible to this row (key < L, key <= row + causalOffset)
      const int lim = causal ? min(L, row + causalOffset + 1) : L;
      const int visible = lim - k0 - 2 * t;
      float mx = ATT_NEG_INF;
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const float x0 = s[nt][2 * r + e] * scale;
          // ScoreBias's float32 sum: bias (by position or distance) + key bias (0 bits read as +0: no change)
          const float xb = hasBias ? x0 + h2f((half_t)(bv[r][nt] >> (16 * e))) : x0;
          const float x = KB ? xb + h2f((half_t)(kv[nt] >> (16 * e))) : xb;
          s[nt][2 * r + e] = nt * 8 + e < visible ? x : ATT_NEG_INF;
          mx = fmaxf(mx, s[nt][2 * r + e]);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float mNew = fmaxf(m[r], mx);
      const float mUse = mNew == ATT_NEG_INF ? 0.f : mNew;  // nothing visible yet: e^(-inf - 0) = 0, not NaN
      const float alpha = exp2f((m[r] - mUse) * LOG2E);
      m[r] = mNew;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const float p = exp2f((s[nt][2 * r + e] - mUse) * LOG2E);
          s[nt][2 * r + e] = p;
          sum += p;
        }
      l[r] = l[r] * alpha + sum;
#pragma unroll
      for (int d = 0; d < DT; d++) {
        o[d][2 * r] *= alpha;
        o[d][2 * r + 1] *= alpha;
      }
    }

    cpAsyncWaitOne();  // V_j has landed (K_{j+1} may still be in flight)
    __syncthreads();
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const unsigned pa[4] = {packHalf2(s[2 * c][0], s[2 * c][1]), packHalf2(s[2 * c][2], s[2 * c][3]),
                              packHalf2(s[2 * c + 1][0], s[2 * c + 1][1]), packHalf2(s[2 * c + 1][2], s[2 * c + 1][3])};
#pragma unroll
      for (int p = 0; p < DT / 2; p++) {
        unsigned b[4];
        ldsm4t(b, vAddr + (unsigned)(c * 16 * STRIDE + p * 16) * 2u);
        mmaF16(o[2 * p], pa, b[0], b[1]);
        mmaF16(o[2 * p + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with sV
    if (j + 1 < kTiles) loadTileAsync<D, STRIDE>(sV, v, vRs, k0 + ATT_BN, keyEnd);
    cpAsyncCommit();
  }

  // No copy may still be writing shared memory when the block exits (kTiles = 0 never waited for its first two).
  asm volatile("cp.async.wait_all;" ::: "memory");

  // O / l, with l summed over the quad; out [n, heads * D], this head's columns.
#pragma unroll
  for (int r = 0; r < 2; r++) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    const int row = row0 + 8 * r;
    if (row >= n) continue;
    half_t* orow = out + (i64)row * heads * D + h * D + 2 * t;
#pragma unroll
    for (int d = 0; d < DT; d++) *reinterpret_cast<unsigned*>(orow + d * 8) = packHalf2(o[d][2 * r] * inv, o[d][2 * r + 1] * inv);
  }
}
#endif

// Grid: heads * ceil(n / 64) blocks of 128 threads; strides in elements (q/k/v: head, row; bias: head, row).
// A bias by distance (ScoreBias.distanceBias [heads, n + L - 1]) is this bias with a row stride of -1,
// from column n - 1: the host passes its pointer there. The _kb kernels also add keyBias [L] to every
// row (ScoreBias.keyBias, T5's padding mask): kernels of their own, so that the others keep the
// registers they had (the key bias's 8 more would spill the d80 kernel at 3 blocks an SM).
#define ATTENTION_KERNEL(D, MINB, KB, SUFFIX)                                                                             \
  extern "C" __global__ void __launch_bounds__(128, MINB) attention_f16_d##D##SUFFIX(                                \
      const half_t* __restrict__ q, i64 qHs, i64 qRs, const half_t* __restrict__ k, i64 kHs, i64 kRs,                 \
      const half_t* __restrict__ v, i64 vHs, i64 vRs, const half_t* __restrict__ bias, i64 bHs, i64 bRs, int hasBias, \
      const half_t* __restrict__ keyBias, half_t* __restrict__ out, int n, int L, int heads, int qTiles, float scale,  \
      int causal, int causalOffset) {                                                                                 \
    PDL_ENTRY();                                                                                                      \
    ATTENTION_BODY(D, KB)                                                                                             \
  }
#if __CUDA_ARCH__ >= 800
#define ATTENTION_BODY(D, KB)                                                                                          \
  attentionTile<D, KB>(q, qHs, qRs, k, kHs, kRs, v, vHs, vRs, bias, bHs, bRs, hasBias, keyBias, out, n, L, heads,   \
                       qTiles, scale, causal, causalOffset);
#else
#define ATTENTION_BODY(D, KB) __trap();  // the host routes below sm_80 to the composition
#endif
ATTENTION_KERNEL(64, 3, false, )
ATTENTION_KERNEL(80, 3, false, )
ATTENTION_KERNEL(128, 2, false, )
ATTENTION_KERNEL(64, 3, true, _kb)
ATTENTION_KERNEL(80, 3, true, _kb)
ATTENTION_KERNEL(128, 2, true, _kb)
