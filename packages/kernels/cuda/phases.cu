// A run of a decode step's kernels as one launch (RoutePolicy.decodePhases): at one row, a decoder layer is
// eight dependent kernels (the GEMV linears and the attention over the cache), and each boundary costs the
// time the last blocks of one kernel take and the next one's start, during which most SMs stream nothing.
// decode_phases runs the same bodies (linearGemv, attendCacheV8: the same bits) one after another in one
// grid of resident blocks, with a grid barrier where a kernel boundary was. A GEMV phase issues its first
// weight loads before that barrier (where it waited on the previous kernel with PDL), so the weights of the
// next phase are in flight while the last blocks of this one finish.
//
// The launch is cooperative (every block resident at once, or the launch fails: never a barrier that waits on
// a block that cannot start), with as many blocks an SM as the kernel's launch bounds (_b2, _b3).
// Phases read what earlier phases wrote with coherent loads (ldAct<true>); weights and caches written by
// earlier launches keep their usual loads.

// sm_70+ (ld.acquire, __grid_constant__); the backend queues no phases below (CudaBackend.phasePerSm).
#if __CUDA_ARCH__ >= 700
#define PHASE_MAX 24
#define PHASE_ATTEND 9  // kinds 0-8: a GEMV linear, NORM * 3 + ACT (linear_gemv_*_r1's forms; 0, 3, 4, 6, 8 run)

// One phase: a GEMV linear at one row, or the attention over the cache (splits 1). Natural alignment
// throughout, so that the host packs it field by field (CudaBackend's phase table, 'p' 8 bytes, 'l' 8, 'i' 4,
// 'f' 4, in this order).
//   linear: p = X, W, wScale, bias, residual, out, normW, normB; i = kind, rows, n, k, ks, stream, grid,
//           flags (1 bias, 2 residual, 4 normB); f[0] = eps
//   attend: p = q, keys, values, lengths, bias, out, newK, newV; l = qStride, newStride;
//           i = kind, heads, headDim, slotRows, hasBias, hasNew, pairs (sequences x heads), chunk; f[0] = scale
struct Phase {
  unsigned long long p[8];
  i64 l[2];
  int i[8];
  float f[2];
};
struct PhaseTable {
  unsigned long long barrier;  // one word: arrivals in the low bits (zero between barriers), a phase bit on top
  int count;
  int pad;
  Phase ph[PHASE_MAX];
};

// Every block of the grid arrives before any leaves, on one word, as cooperative groups' grid sync does: block 0
// adds 2^31 - (blocks - 1), every other block 1, so the arrivals of one barrier add exactly 2^31: the last one
// flips the top bit and leaves the low bits as they were (zero). Each block waits (acquire) for the top bit to
// differ from what its own arrival saw. No reset and no second word, so the last arrival is itself the release
// (NOTES.md, 2026-12-07: with a count reset and a generation bumped after the last arrival, the phased step
// lost ~5 us a barrier). The fences order each block's writes before its arrival and the others' reads after
// their wait.
__device__ __forceinline__ void gridBarrier(unsigned* bar) {
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned add = blockIdx.x == 0 ? 0x80000000u - (gridDim.x - 1) : 1u;
    __threadfence();
    const unsigned old = atomicAdd(bar, add);
    unsigned now;
    do {
      asm volatile("ld.acquire.gpu.u32 %0, [%1];" : "=r"(now) : "l"(bar) : "memory");
    } while (((old ^ now) & 0x80000000u) == 0);
    __threadfence();
  }
  __syncthreads();
}

// The entry of a phase: the launch's own start (PDL_ENTRY) for the first, a grid barrier for the others.
struct PhaseEntry {
  unsigned* bar;
  bool first;
  __device__ __forceinline__ void operator()() const {
    if (first) {
      PDL_ENTRY();
    } else {
      gridBarrier(bar);
    }
  }
};

template <int NORM, int ACT>
__device__ __forceinline__ void linearPhase(const Phase& ph, PhaseEntry entry) {
  const int flags = ph.i[7];
  const half_t* none = nullptr;
  if ((int)blockIdx.x >= ph.i[6]) {  // past the grid this linear was planned for: only the barrier
    entry();
    return;
  }
  linearGemv<1, NORM, ACT, true>(reinterpret_cast<const half_t*>(ph.p[0]), reinterpret_cast<const signed char*>(ph.p[1]),
                                 reinterpret_cast<const half_t*>(ph.p[2]), flags & 1 ? reinterpret_cast<const half_t*>(ph.p[3]) : none,
                                 flags & 2 ? reinterpret_cast<const half_t*>(ph.p[4]) : none, reinterpret_cast<half_t*>(ph.p[5]),
                                 ph.i[1], ph.i[2], ph.i[3], reinterpret_cast<const half_t*>(ph.p[6]), ph.f[0],
                                 flags & 4 ? reinterpret_cast<const half_t*>(ph.p[7]) : none, ph.i[4], ph.i[5], blockIdx.x, ph.i[6],
                                 entry);
}

__device__ __forceinline__ void attendPhase(const Phase& ph, PhaseEntry entry) {
  entry();
  half_t* keys = reinterpret_cast<half_t*>(ph.p[1]);
  half_t* values = reinterpret_cast<half_t*>(ph.p[2]);
  for (int blk = blockIdx.x; blk < ph.i[6]; blk += gridDim.x)
    attendCacheV8<true>(reinterpret_cast<const half_t*>(ph.p[0]), ph.l[0], keys, values, reinterpret_cast<const int*>(ph.p[3]),
                        reinterpret_cast<const half_t*>(ph.p[4]), ph.i[4], reinterpret_cast<half_t*>(ph.p[5]), ph.i[1], ph.i[2], ph.i[3],
                        ph.f[0], reinterpret_cast<const half_t*>(ph.p[6]), reinterpret_cast<const half_t*>(ph.p[7]), ph.l[1], ph.i[5],
                        keys, values, 1, ph.i[7], nullptr, nullptr, blk);
}

// 256 threads a block; dynamic shared memory: the largest k of its linears and chunk x 4 of its attentions.
// The forms the models' decoder layers use (T5's RMS norm and gated FFN, GPT-2's LayerNorm and GELU); the host
// runs any other as its own kernel. _b2 / _b3: 2 or 3 blocks an SM (128 or 80 registers: at 80 the several
// bodies in one kernel spill some).
#define DECODE_PHASES_KERNEL(B)                                                                               \
  extern "C" __global__ void __launch_bounds__(256, B) decode_phases_b##B(const __grid_constant__ PhaseTable t) { \
    unsigned* bar = reinterpret_cast<unsigned*>(t.barrier);                                                   \
    for (int p = 0; p < t.count; p++) {                                                                       \
      const Phase& ph = t.ph[p];                                                                              \
      const PhaseEntry entry{bar, p == 0};                                                                    \
      switch (ph.i[0]) {                                                                                      \
        case 0: linearPhase<0, 0>(ph, entry); break;                                                          \
        case 3: linearPhase<1, 0>(ph, entry); break;                                                          \
        case 4: linearPhase<1, 1>(ph, entry); break;                                                          \
        case 6: linearPhase<2, 0>(ph, entry); break;                                                          \
        case 8: linearPhase<2, 2>(ph, entry); break;                                                          \
        default: attendPhase(ph, entry); break;                                                               \
      }                                                                                                       \
      /* linearGemv and attendCacheV8 reuse their shared memory in the next phase */                          \
      __syncthreads();                                                                                        \
    }                                                                                                         \
  }
DECODE_PHASES_KERNEL(2)
DECODE_PHASES_KERNEL(3)
#endif
