// bminf's CUDA kernels run on the CPU, one block at a time, each CUDA thread a fiber (ucontext) of one OS
// thread, switched at every barrier and warp shuffle: enough of
// CUDA's model (threadIdx, __syncthreads, warp shuffles, shared memory, atomics) for kernels whose logic
// is to be checked on a machine without a GPU. Not a simulator of the hardware: no timing, no memory
// model beyond sequential consistency, and float16 conversions and the int8 tensor-core product computed
// in software. build.mjs rewrites the kernel sources' PTX (asm) into the emu_* functions below and their
// __shared__ variables into statics (one block runs at a time, so they are the block's).
#pragma once
#include <atomic>
#include <ucontext.h>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

struct EmuDim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline EmuDim3 threadIdx, blockIdx;  // the running fiber's (set at every switch)
inline EmuDim3 blockDim, gridDim;
// The dynamic shared memory of the running block (launch's sharedBytes).
inline std::vector<unsigned char> emu_dyn_smem_buf;
#define emu_dyn_smem (emu_dyn_smem_buf.data())

// The fibers of the running block, and the scheduler's context.
struct EmuFiber {
  ucontext_t ctx;
  std::vector<char> stack;
  unsigned tid = 0;
  bool done = false;
  const uint64_t* waitGen = nullptr;  // while it waits at a barrier: that barrier's phase, and the value it waits to change
  uint64_t waitVal = 0;
};
inline std::vector<EmuFiber> emu_fibers;
inline ucontext_t emu_scheduler;
inline unsigned emu_current = 0;
// Back to the scheduler, which resumes the next fiber that has not finished.
inline void emu_yield() { swapcontext(&emu_fibers[emu_current].ctx, &emu_scheduler); }

// A barrier for `expected` fibers; arrive_and_drop leaves it for good (an exited thread). A fiber that
// arrives yields until the phase it arrived in has completed.
class EmuBarrier {
 public:
  explicit EmuBarrier(int expected) : expected_(expected) {}
  void arrive_and_wait() {
    const uint64_t gen = gen_;
    if (++count_ >= expected_) {
      release();
      return;
    }
    EmuFiber& me = emu_fibers[emu_current];
    me.waitGen = &gen_, me.waitVal = gen;  // the scheduler resumes it once the phase has moved on
    while (gen_ == gen) emu_yield();
    me.waitGen = nullptr;
  }
  void arrive_and_drop() {
    expected_--;
    if (count_ > 0 && count_ >= expected_) release();
  }

 private:
  void release() {
    count_ = 0;
    gen_++;
  }
  int expected_, count_ = 0;
  uint64_t gen_ = 0;
};

struct EmuBlock {
  EmuBarrier* block = nullptr;
  std::vector<EmuBarrier*> warps;
  std::vector<uint64_t> exchange;  // a word a thread for the warp shuffles
  unsigned mma[32][32][6];         // a warp's mma fragments, gathered
};
inline EmuBlock emu_block;

inline void __syncthreads() { emu_block.block->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// Every lane of a warp calls the same shuffle (as the kernels do: full masks, uniform control flow).
template <typename T>
inline T emu_shuffle(T v, int srcLane) {
  static_assert(sizeof(T) <= 8, "a shuffled value fits a word");
  const unsigned t = threadIdx.x, lane = t & 31, base = t - lane;
  EmuBarrier& bar = *emu_block.warps[t >> 5];
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  emu_block.exchange[t] = bits;
  bar.arrive_and_wait();
  const uint64_t got = emu_block.exchange[base + (srcLane >= 0 && srcLane < 32 ? srcLane : lane)];
  bar.arrive_and_wait();
  T out;
  std::memcpy(&out, &got, sizeof(T));
  return out;
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int o) {
  return emu_shuffle(v, static_cast<int>((threadIdx.x & 31) ^ o));
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned d) {
  const int src = static_cast<int>((threadIdx.x & 31) + d);
  return emu_shuffle(v, src < 32 ? src : static_cast<int>(threadIdx.x & 31));
}

inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline int atomicCAS(int* p, int cmp, int v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return cmp;
}
template <typename T>
inline T __ldcg(const T* p) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return *static_cast<const volatile T*>(p);
}

// The _rn intrinsics: one IEEE operation each (the build passes -ffp-contract=off, so none is fused).
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __frcp_rn(float a) { return 1.f / a; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
// rsqrtf is an approximation on the GPU; here exact. Kernels are compared with themselves in emulation.
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
// CUDA's built-in vector type the kernels use.
struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
template <typename A, typename B>
inline auto min(A a, B b) -> decltype(a + b) {
  return a < b ? a : b;
}
template <typename A, typename B>
inline auto max(A a, B b) -> decltype(a + b) {
  return a < b ? b : a;
}

// float16 bits <-> float, round to nearest even (PTX cvt.f32.f16 / cvt.rn.f16.f32).
inline float emu_h2f(unsigned short h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }
inline unsigned short emu_f2h(float f) { return std::bit_cast<unsigned short>(static_cast<_Float16>(f)); }

// dp4a.s32.s32: four int8 products summed into c.
inline int emu_dp4a(unsigned a, unsigned b, int c) {
  for (int i = 0; i < 4; i++) c += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  return c;
}

// mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 for the calling warp, in PTX's fragment layout
// (groupID g = lane / 4, t = lane % 4): A (16 x 32, row) a0 = row g, k 4t..4t+3; a1 = row g + 8, the same
// k; a2, a3 the same rows at k 16 + 4t..; B (32 x 8, col) b0 = k 4t..4t+3 of column g, b1 = k 16 + 4t..;
// C (16 x 8) c0, c1 = row g, columns 2t, 2t + 1; c2, c3 = row g + 8.
inline void emu_mma_s8(int* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  const unsigned t = threadIdx.x, lane = t & 31, warp = t >> 5;
  EmuBarrier& bar = *emu_block.warps[warp];
  unsigned (*all)[6] = emu_block.mma[warp];
  const unsigned mine[6] = {a0, a1, a2, a3, b0, b1};
  std::memcpy(all[lane], mine, sizeof mine);
  bar.arrive_and_wait();
  int8_t A[16][32], B[32][8];
  for (int l = 0; l < 32; l++) {
    const int g = l >> 2, tt = l & 3;
    for (int i = 0; i < 4; i++) {
      A[g][4 * tt + i] = static_cast<int8_t>(all[l][0] >> (8 * i));
      A[g + 8][4 * tt + i] = static_cast<int8_t>(all[l][1] >> (8 * i));
      A[g][16 + 4 * tt + i] = static_cast<int8_t>(all[l][2] >> (8 * i));
      A[g + 8][16 + 4 * tt + i] = static_cast<int8_t>(all[l][3] >> (8 * i));
      B[4 * tt + i][g] = static_cast<int8_t>(all[l][4] >> (8 * i));
      B[16 + 4 * tt + i][g] = static_cast<int8_t>(all[l][5] >> (8 * i));
    }
  }
  bar.arrive_and_wait();
  const int g = lane >> 2, tt = lane & 3;
  auto dot = [&](int r, int col) {
    int s = 0;
    for (int k = 0; k < 32; k++) s += A[r][k] * B[k][col];
    return s;
  };
  c[0] += dot(g, 2 * tt), c[1] += dot(g, 2 * tt + 1), c[2] += dot(g + 8, 2 * tt), c[3] += dot(g + 8, 2 * tt + 1);
}

// Runs kernel() over grid x block threads (1-D), one block after another, each thread a fiber. A thread
// that returns leaves its block's and its warp's barriers (arrive_and_drop), as an exited GPU thread no
// longer holds up __syncthreads.
template <typename F>
inline void emu_launch(unsigned grid, unsigned block, size_t sharedBytes, F&& kernel) {
  gridDim = {grid, 1, 1};
  blockDim = {block, 1, 1};
  static F* body;
  body = &kernel;
  for (unsigned b = 0; b < grid; b++) {
    emu_dyn_smem_buf.assign(sharedBytes + 16, 0xa5);  // not zero: a kernel must write what it reads
    EmuBarrier blockBar(static_cast<int>(block));
    std::vector<EmuBarrier*> warps;
    for (unsigned w = 0; w < (block + 31) / 32; w++) warps.push_back(new EmuBarrier(static_cast<int>(std::min(32u, block - 32 * w))));
    emu_block.block = &blockBar;
    emu_block.warps = warps;
    emu_block.exchange.assign(block, 0);
    blockIdx = {b, 0, 0};
    emu_fibers.assign(block, EmuFiber{});
    for (unsigned t = 0; t < block; t++) {
      EmuFiber& f = emu_fibers[t];
      f.tid = t;
      f.stack.resize(256 * 1024);
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &emu_scheduler;
      makecontext(&f.ctx, reinterpret_cast<void (*)()>(+[] {
                    (*body)();
                    const unsigned t = threadIdx.x;
                    emu_block.warps[t >> 5]->arrive_and_drop();
                    emu_block.block->arrive_and_drop();
                    emu_fibers[t].done = true;
                  }),
                  0);
    }
    for (unsigned left = block; left > 0;) {
      left = 0;
      unsigned resumed = 0;
      for (unsigned t = 0; t < block; t++) {
        if (emu_fibers[t].done) continue;
        if (emu_fibers[t].waitGen && *emu_fibers[t].waitGen == emu_fibers[t].waitVal) {
          left++;
          continue;
        }
        emu_current = t;
        threadIdx = {t, 0, 0};
        swapcontext(&emu_scheduler, &emu_fibers[t].ctx);
        resumed++;
        if (!emu_fibers[t].done) left++;
      }
      if (left > 0 && resumed == 0) {
        // every thread left waits at a barrier that cannot complete: a GPU would hang here too
        std::fprintf(stderr, "emu: block %u deadlocked:", b);
        for (unsigned t = 0; t < block; t++)
          if (!emu_fibers[t].done) std::fprintf(stderr, " %u", t);
        std::fprintf(stderr, " wait at barriers that the others never reach\n");
        std::abort();
      }
    }
    for (auto* w : warps) delete w;
  }
}
