// int8 x int8 -> int32 GEMM for Hopper (sm_90a) with the int8 linear layer's dequantize fused into its
// epilogue: y[t, o] = half(float(sum_k x[t, k] * w[o, k]) * xs[t] * ws[o] (+ bias[o])), with the CPU's
// rounding (two float32 products, then the bias, then one rounding to float16), then optionally
// half(gelu(y)) and half(residual[t, o] + y) as the gelu and add ops round them (dequant8Store); or the
// int32 sums themselves (igemm). cublasLt has no int8 GEMM with per-row and per-column float scales on Hopper
// (tooling/probe/lt_int8_scaled.py), so without this kernel the int32 product makes a round trip through
// memory (4 bytes written and read per output) before a separate dequantize kernel.
//
// A block computes a BM (tokens) x BN (output features) tile. A producer warpgroup issues TMA loads of
// 128-byte K slices of both operands (128-byte swizzle) into a ring of STAGES shared-memory stages; two
// consumer warpgroups multiply with wgmma (m64 x WN x k32, 4 per stage), with full/empty mbarriers
// between them and one wgmma group left in flight. Tile shapes: 'a' 128 x 256 (consumers split the
// tokens; wgmma n256), for many tokens; 'b' 64 x 128 (consumers split the features; wgmma n64, 8
// stages), for products that would give 'a' fewer blocks than half the SMs; 't' 128 x 128 split-K over
// the 2 blocks of a thread-block cluster (each runs half the K steps; the partial tiles are summed
// through distributed shared memory, splitReduce), from 128 tokens there. Measurements, and the
// variants tried and removed (clusters of two multicasting the weight tile: correct but 8-16 % slower; a
// 256 x 128 tile with split-K for 128-512 tokens: slower than cublasLt), are in NOTES.md. The epilogue stages the int32 tile
// in shared memory and writes 16-byte vectors, dequantizing on the way out. The operands are K-major
// (row-major x [T, K] and w [M, K]), the only layout wgmma takes for 8-bit types.
// Compiled only for sm_90a (wgmma), as its own module (compiler.ts).

typedef unsigned long long u64;
typedef unsigned int u32;

// The driver's CUtensorMap: 128 opaque bytes, 64-byte aligned, passed by value.
struct alignas(64) TensorMap {
  u64 opaque[16];
};

__device__ __forceinline__ u32 smemAddr(const void* p) {
  u64 r;
  asm("cvta.to.shared.u64 %0, %1;" : "=l"(r) : "l"((u64)p));
  return (u32)r;
}

__device__ __forceinline__ void mbarInit(u64* bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smemAddr(bar)), "r"(count));
}
__device__ __forceinline__ void mbarExpectTx(u64* bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smemAddr(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbarArrive(u64* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smemAddr(bar)) : "memory");
}
__device__ __forceinline__ void mbarWait(u64* bar, u32 parity) {
  u32 done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smemAddr(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// A box of the 2-D tensor map at (column c0 in bytes of K, row c1) into shared memory, completing on bar.
__device__ __forceinline__ void tmaLoad(void* dst, const TensorMap* map, int c0, int c1, u64* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
      ::"r"(smemAddr(dst)), "l"((u64)map), "r"(c0), "r"(c1), "r"(smemAddr(bar))
      : "memory");
}

// wgmma's shared-memory matrix descriptor for a K-major operand stored as TMA's 128-byte swizzle writes
// it: rows of 128 bytes, 8-row groups 1024 bytes apart (stride byte offset), swizzle mode 1 (128 B).
__device__ __forceinline__ u64 smemDesc(const void* p) {
  const u64 a = smemAddr(p);
  return ((a & 0x3FFFF) >> 4) | ((u64)(16 >> 4) << 16) | ((u64)(1024 >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmmaWait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }
// Named barriers among the consumer threads (id 0 is __syncthreads).
__device__ __forceinline__ void namedBarrier(int id, int threads) { asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory"); }

// Thread-block clusters (split-K): a barrier over every thread of the cluster, with release/acquire
// ordering of shared memory; the block's rank in its cluster; the address of the same shared-memory
// byte in another block of the cluster; and a 16-byte load from such an address.
__device__ __forceinline__ void clusterSync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
}
__device__ __forceinline__ u32 clusterRank() {
  u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ u32 clusterMap(u32 addr, u32 rank) {
  u32 r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
__device__ __forceinline__ i32x4 clusterLoad4(u32 addr) {
  i32x4 v;
  asm volatile("ld.shared::cluster.v4.s32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr) : "memory");
  return v;
}
__device__ __forceinline__ void add4(i32x4& a, const i32x4 b) {
  a.x += b.x;
  a.y += b.y;
  a.z += b.z;
  a.w += b.w;
}

// d (64 x N int32 per warpgroup) += A (64 x 32 int8) * B (N x 32 int8)ᵀ; acc == 0: d = A * Bᵀ (wgmma's scale-d
// predicate). The first product of a tile overwrites its accumulators instead of adding to zeros set before
// the loop: with those zeroing moves in the pipeline, ptxas serialized the wgmma of igemm_sm90_a and _b and
// linear_gated_sm90_a (C7515: "non wgmma instructions defining accumulator registers"; NOTES.md).
__device__ __forceinline__ void wgmmaN64(int* d, u64 descA, u64 descB, int acc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\nwgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p;\n}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31])
      : "l"(descA), "l"(descB), "r"(acc));
}
__device__ __forceinline__ void wgmmaN128(int* d, u64 descA, u64 descB, int acc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p;\n}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "l"(descA), "l"(descB), "r"(acc));
}
__device__ __forceinline__ void wgmmaN256(int* d, u64 descA, u64 descB, int acc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p;\n}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]), "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]), "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]), "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]), "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
      : "l"(descA), "l"(descB), "r"(acc));
}

template <int WN>
__device__ __forceinline__ void wgmma(int* d, u64 a, u64 b, int acc) {
  if constexpr (WN == 256) wgmmaN256(d, a, b, acc);
  else if constexpr (WN == 128) wgmmaN128(d, a, b, acc);
  else wgmmaN64(d, a, b, acc);
}

// Split-K's end: the SPLIT blocks of a cluster each hold a BM x BN int32 partial tile in shared memory
// (row r at r * (BN * 4 + 32) bytes). Block `rank` sums rows [rank * BM / SPLIT, (rank + 1) * BM / SPLIT)
// of all of them (its own and its peers', read through distributed shared memory) and writes them out
// as the single-block epilogue does: int32 sums (MODE 0), dequantized float16 (MODE 1), or the gated
// outputs (MODE 2: columns [0, BN / 2) of the tile are in rows' sums, [BN / 2, BN) their gate rows'). Integer
// sums, so the result does not depend on the split.
template <int MODE, int BM, int BN, int SPLIT>
__device__ __forceinline__ void splitReduce(unsigned char* smem, int rank, const half_t* __restrict__ xs,
                                            const half_t* __restrict__ ws, const half_t* __restrict__ bias, int hasBias,
                                            const half_t* __restrict__ residual, int gelu, void* __restrict__ out, int t0,
                                            int o0, int T, int M) {
  constexpr int STRIDE = BN * 4 + 32, RB = BM / SPLIT, VEC = MODE == 0 ? 4 : 8, CPR = (MODE == 2 ? BN / 2 : BN) / VEC;
  const u32 base = smemAddr(smem);
  u32 peer[SPLIT];
#pragma unroll
  for (int p = 0; p < SPLIT; p++) peer[p] = clusterMap(base, (u32)((rank + p) % SPLIT));
  for (int q = threadIdx.x; q < RB * CPR; q += blockDim.x) {
    const int r = rank * RB + q / CPR, ch = q % CPR;
    const int t = t0 + r, o = o0 + ch * VEC;
    if (t >= T || o >= M) continue;
    const u32 off = (u32)(r * STRIDE + ch * VEC * 4);
    i32x4 a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0}, g0 = {0, 0, 0, 0}, g1 = {0, 0, 0, 0};
#pragma unroll
    for (int p = 0; p < SPLIT; p++) {
      add4(a0, clusterLoad4(peer[p] + off));
      if (MODE >= 1) add4(a1, clusterLoad4(peer[p] + off + 16));
      if (MODE == 2) {
        add4(g0, clusterLoad4(peer[p] + off + BN / 2 * 4));
        add4(g1, clusterLoad4(peer[p] + off + BN / 2 * 4 + 16));
      }
    }
    if (MODE == 0) *(i32x4*)((int*)out + (i64)t * M + o) = a0;
    else if (MODE == 1)
      dequant8Store((half_t*)out + (i64)t * M + o, a0, a1, h2f(xs[t]), ws + o, hasBias ? bias + o : nullptr, gelu,
                    residual ? residual + (i64)t * M + o : nullptr);
    else
      gatedStore8((half_t*)out + (i64)t * M + o, a0, a1, g0, g1, h2f(xs[t]), ws + o, ws + M + o,
                  hasBias ? bias + o : nullptr, hasBias ? bias + M + o : nullptr, residual ? residual + (i64)t * M + o : nullptr);
  }
}

// out[T, M] from x [T, K] (mapX: boxes of 128 bytes x BM rows) and w [M, K] (mapW: 128 bytes x BN rows).
// MODE 0: int32 sums (igemm); MODE 1: float16 y with xs [T], ws [M] float16 scales and optional bias,
// then GELU (gelu != 0) and the residual [T, M] (non-null; packed, 16-byte aligned) where asked.
// MODE 2 (gated): w is a gated FFN's stacked [in; gate] rows [2M, K] (ws, bias [2M]; mapW's box BN / 2
// rows), out [T, M] = half(half(gelu(in)) * gate) (+ residual [T, M]) as gelu, mul and add round them.
// A tile's BN weight rows are its BN / 2 in rows and their gate rows (two TMA boxes per stage, the
// second BN / 2 * 128 bytes on, so the stage is laid out as one box of BN rows), so that each output's
// two sums are in the same tile; its outputs are BN / 2 wide. M % 8 == 0.
// WGM x WGN = 2 consumer warpgroups: WGM along the tokens (BM = 64 * WGM), WGN along the features.
template <int MODE, int WGM, int BN, int STAGES, int SPLIT>
__device__ __forceinline__ void gemmSm90(const TensorMap* mapX, const TensorMap* mapW, const half_t* __restrict__ xs,
                                         const half_t* __restrict__ ws, const half_t* __restrict__ bias, int hasBias,
                                         const half_t* __restrict__ residual, int gelu, void* __restrict__ out, int T,
                                         int M, int K) {
  constexpr int BM = 64 * WGM, WGN = 2 / WGM, WN = BN / WGN, BK = 128;
  constexpr int STAGE_A = BM * BK, STAGE_B = BN * BK;
  extern __shared__ unsigned char smemRaw[];
  // 1024-byte alignment for the swizzled stages (the descriptors assume it).
  unsigned char* smem = (unsigned char*)(((u64)smemRaw + 1023) & ~(u64)1023);
  unsigned char* sA = smem;
  unsigned char* sB = smem + STAGES * STAGE_A;
  u64* full = (u64*)(sB + STAGES * STAGE_B);
  u64* empty = full + STAGES;

  static_assert(SPLIT == 1 || WGM == 2, "split-K tiles have the consumers split the tokens (one row-major tile)");
  const int tilesT = (T + BM - 1) / BM;
  // With SPLIT > 1 the SPLIT blocks of a cluster (consecutive block indices) share one output tile and
  // each runs its own share of the K steps; the partial tiles are summed through distributed shared
  // memory at the end. Otherwise a block is a tile.
  const int tileIdx = blockIdx.x / SPLIT;
  const int rank = SPLIT > 1 ? (int)clusterRank() : 0;
  const int t0 = (tileIdx % tilesT) * BM;
  constexpr int BO = MODE == 2 ? BN / 2 : BN;  // output columns per tile
  const int o0 = (tileIdx / tilesT) * BO;
  const int nkAll = (K + BK - 1) / BK;
  const int kBegin = (int)((i64)nkAll * rank / SPLIT);
  const int nk = (int)((i64)nkAll * (rank + 1) / SPLIT) - kBegin;
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      mbarInit(&full[s], 1);
      mbarInit(&empty[s], 2);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (wg == 0) {
    // Producer: one thread issues every load. (No setmaxnreg: if ptxas gave the kernel fewer than 168
    // registers a thread, the consumers' increase could never be granted and the block would hang.)
    if (threadIdx.x == 0) {
      for (int i = 0; i < nk; i++) {
        const int s = i % STAGES;
        if (i >= STAGES) mbarWait(&empty[s], ((i / STAGES) - 1) & 1);
        mbarExpectTx(&full[s], STAGE_A + STAGE_B);
        tmaLoad(sA + s * STAGE_A, mapX, (kBegin + i) * BK, t0, &full[s]);
        tmaLoad(sB + s * STAGE_B, mapW, (kBegin + i) * BK, o0, &full[s]);
        if (MODE == 2) tmaLoad(sB + s * STAGE_B + BO * BK, mapW, (kBegin + i) * BK, M + o0, &full[s]);
      }
    }
    if constexpr (SPLIT > 1) {
      // The producer's threads join the cluster's barriers of the reduction (they share its work too).
      clusterSync();
      splitReduce<MODE, BM, BN, SPLIT>(smem, rank, xs, ws, bias, hasBias, residual, gelu, out, t0, o0, T, M);
      clusterSync();
    }
    return;
  }

  const int c = wg - 1;
  const int cm = WGM == 2 ? c : 0, cn = WGM == 2 ? 0 : c;
  // Set by the first stage's products (acc 0). A block whose share of the K steps is empty (split-K's
  // rank 0 where K is one step) never sets them: its epilogue stores zeros (a select there, so that no
  // zeroing moves come near the pipeline).
  int d[WN / 2];
  for (int i = 0; i < nk; i++) {
    const int s = i % STAGES;
    mbarWait(&full[s], (i / STAGES) & 1);
    wgmmaFence();
    const unsigned char* a = sA + s * STAGE_A + cm * 64 * BK;
    const unsigned char* b = sB + s * STAGE_B + cn * WN * BK;
#pragma unroll
    for (int kk = 0; kk < BK / 32; kk++) wgmma<WN>(d, smemDesc(a + kk * 32), smemDesc(b + kk * 32), i > 0 || kk > 0);
    wgmmaCommit();
    // One group stays in flight: the previous stage's products are done, so its buffers go back.
    wgmmaWait<1>();
    if (i > 0 && threadIdx.x % 128 == 0) mbarArrive(&empty[(i - 1) % STAGES]);
  }
  wgmmaWait<0>();

  // Epilogue: both consumers are done with every stage (the producer issued exactly nk loads), so the
  // stages hold each consumer's 64 x WN int32 tile, rows padded by 32 bytes (so that each half-warp's
  // 8-byte fragment stores fall in distinct banks). Fragment layout of wgmma m64nN: thread (warp w, lane l) holds,
  // for each 8-column group j, rows w * 16 + l / 4 and + 8, columns j * 8 + (l % 4) * 2 and + 1.
  namedBarrier(1, 256);
  constexpr int STRIDE = WN * 4 + 32;
  unsigned char* tile = smem + c * 64 * STRIDE;
  const int tid = threadIdx.x % 128, lane = tid % 32, warp = tid / 32;
#pragma unroll
  for (int j = 0; j < WN / 8; j++) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int r = warp * 16 + lane / 4 + h * 8, col = j * 8 + (lane % 4) * 2;
      const u32x2 pair = {nk > 0 ? (u32)d[j * 4 + h * 2] : 0u, nk > 0 ? (u32)d[j * 4 + h * 2 + 1] : 0u};
      *(u32x2*)(tile + r * STRIDE + col * 4) = pair;
    }
  }
  if constexpr (SPLIT > 1) {
    // Every block of the cluster has its partial tile in shared memory after the first barrier; the
    // second keeps each block's tile alive until the others have read it.
    clusterSync();
    splitReduce<MODE, BM, BN, SPLIT>(smem, rank, xs, ws, bias, hasBias, residual, gelu, out, t0, o0, T, M);
    clusterSync();
    return;
  }
  if (MODE == 2) {
    // 'a' (WGN 1): each consumer's tile holds in sums in columns [0, BN / 2), gate sums in [BN / 2, BN).
    // 'b' (WGN 2): consumer 0's tile is the in rows', consumer 1's the gate rows', for the same 64 tokens:
    // both consumers meet, then share the 64 rows.
    if (WGN == 2) namedBarrier(1, 256);
    else namedBarrier(2 + c, 128);
    const unsigned char* inTile = WGN == 2 ? smem : tile;
    const unsigned char* gateTile = WGN == 2 ? smem + 64 * STRIDE : tile + BO * 4;
    const int me = WGN == 2 ? threadIdx.x - 128 : tid, threads = WGN == 2 ? 256 : 128;
    const int rowBase = t0 + cm * 64;
    constexpr int CPR = BO / 8;
    for (int q = me; q < 64 * CPR; q += threads) {
      const int r = q / CPR, ch = q % CPR;
      const int t = rowBase + r, o = o0 + ch * 8;
      if (t >= T || o >= M) continue;
      const i32x4 a0 = *(const i32x4*)(inTile + r * STRIDE + ch * 32);
      const i32x4 a1 = *(const i32x4*)(inTile + r * STRIDE + ch * 32 + 16);
      const i32x4 g0 = *(const i32x4*)(gateTile + r * STRIDE + ch * 32);
      const i32x4 g1 = *(const i32x4*)(gateTile + r * STRIDE + ch * 32 + 16);
      gatedStore8((half_t*)out + (i64)t * M + o, a0, a1, g0, g1, h2f(xs[t]), ws + o, ws + M + o,
                  hasBias ? bias + o : nullptr, hasBias ? bias + M + o : nullptr, residual ? residual + (i64)t * M + o : nullptr);
    }
    return;
  }
  namedBarrier(2 + c, 128);
  const int rowBase = t0 + cm * 64, colBase = o0 + cn * WN;
  if (MODE == 0) {
    // 4 int32 (16 bytes) per thread and step; a warp writes 512 contiguous bytes of a row.
    constexpr int CPR = WN / 4;
    for (int q = tid; q < 64 * CPR; q += 128) {
      const int r = q / CPR, ch = q % CPR;
      const int t = rowBase + r, o = colBase + ch * 4;
      if (t < T && o < M) *(u32x4*)((int*)out + (i64)t * M + o) = *(const u32x4*)(tile + r * STRIDE + ch * 16);
    }
  } else {
    // 8 outputs per thread and step: two 16-byte reads of the tile, then the dequantize kernel's own
    // arithmetic (dequant8Store in prelude.cuh: 16-byte loads of the scales, biases and residual, one store).
    constexpr int CPR = WN / 8;
    for (int q = tid; q < 64 * CPR; q += 128) {
      const int r = q / CPR, ch = q % CPR;
      const int t = rowBase + r, o = colBase + ch * 8;
      if (t >= T || o >= M) continue;
      const i32x4 a0 = *(const i32x4*)(tile + r * STRIDE + ch * 32);
      const i32x4 a1 = *(const i32x4*)(tile + r * STRIDE + ch * 32 + 16);
      dequant8Store((half_t*)out + (i64)t * M + o, a0, a1, h2f(xs[t]), ws + o, hasBias ? bias + o : nullptr, gelu,
                    residual ? residual + (i64)t * M + o : nullptr);
    }
  }
}

// Tile shapes (see the header): a = 128 x 256, 4 stages; b = 64 x 128, 8 stages; t = 128 x 128, 6
// stages, split-K over clusters of 2 blocks; a2 = a's tile split-K over clusters of 2 (for products whose
// 'a' tiles fill half the SMs or fewer: CPM-2's encoder FFN out, [512, 10240] x [4096, 10240], is 64
// tiles). Shared memory per block (the backend's SMEM table must match): STAGES * (BM + BN) * 128 +
// 16 * STAGES + 1024.
#define SM90_KERNELS(CFG, WGM, BN, STAGES, SPLIT, ATTR)                                                                  \
  extern "C" __global__ void __launch_bounds__(384, 1) ATTR                                                            \
      igemm_sm90_##CFG(const __grid_constant__ TensorMap mapX, const __grid_constant__ TensorMap mapW, int* __restrict__ out, \
                       int T, int M, int K) {                                                                          \
    gemmSm90<0, WGM, BN, STAGES, SPLIT>(&mapX, &mapW, nullptr, nullptr, nullptr, 0, nullptr, 0, out, T, M, K);         \
  }                                                                                                                    \
  extern "C" __global__ void __launch_bounds__(384, 1) ATTR                                                            \
      linear_sm90_##CFG(const __grid_constant__ TensorMap mapX, const __grid_constant__ TensorMap mapW,               \
                        const half_t* __restrict__ xs, const half_t* __restrict__ ws, const half_t* __restrict__ bias,  \
                        int hasBias, const half_t* __restrict__ residual, int hasResidual, int gelu,                   \
                        half_t* __restrict__ out, int T, int M, int K) {                                               \
    gemmSm90<1, WGM, BN, STAGES, SPLIT>(&mapX, &mapW, xs, ws, bias, hasBias, hasResidual ? residual : nullptr, gelu,   \
                                        out, T, M, K);                                                                 \
  }                                                                                                                    \
  extern "C" __global__ void __launch_bounds__(384, 1) ATTR                                                            \
      linear_gated_sm90_##CFG(const __grid_constant__ TensorMap mapX, const __grid_constant__ TensorMap mapW,         \
                              const half_t* __restrict__ xs, const half_t* __restrict__ ws,                           \
                              const half_t* __restrict__ bias, int hasBias, const half_t* __restrict__ residual,      \
                              int hasResidual, half_t* __restrict__ out, int T, int M, int K) {                       \
    gemmSm90<2, WGM, BN, STAGES, SPLIT>(&mapX, &mapW, xs, ws, bias, hasBias, hasResidual ? residual : nullptr, 0,      \
                                        out, T, M, K);                                                                 \
  }
#define NO_CLUSTER
SM90_KERNELS(a, 2, 256, 4, 1, NO_CLUSTER)
SM90_KERNELS(b, 1, 128, 8, 1, NO_CLUSTER)
SM90_KERNELS(t, 2, 128, 6, 2, __cluster_dims__(2, 1, 1))
SM90_KERNELS(a2, 2, 256, 4, 2, __cluster_dims__(2, 1, 1))
