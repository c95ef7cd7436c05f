// A small persistent thread pool. Ops split their work into index ranges and run them on up to
// NumThreads() threads, the calling thread included: hardware_concurrency by default,
// BMINF_CPU_THREADS at start-up or SetNumThreads() (cpu.setThreads, --threads) later. How many of
// them an op uses follows its size (the grains below): a decode step's small GEMVs run on one.
#pragma once
#include <cstdint>
#include <functional>

namespace bminf {
namespace cpu {

int NumThreads();
// Sets the threads ops may use (1..256; 0 restores the default), starting more workers if needed.
void SetNumThreads(int threads);

// The least work worth a parallel region: waking a thread costs tens of microseconds (far more on a
// machine busy with other processes), so ops split their work only into pieces of at least this many
// elements (elementwise ops) or multiply-adds (GEMMs). A decode step's ops mostly run inline.
constexpr int64_t kGrainElements = int64_t(1) << 16;
constexpr int64_t kGrainMacs = int64_t(1) << 21;

// Calls fn(begin, end) on disjoint ranges of about equal length covering [0, n), in parallel, and
// returns when all are done; there are at most ceil(n / grain) of them (and at most 4 per thread). Runs inline when the work is small, when called from
// inside a parallel region, or when another JS thread (a worker) is using the pool.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// The CPUs this process may run on (its affinity mask; hardware_concurrency where that is unknown).
int CpuCount();
// Whether the threads ops may use cover every CPU of the process (NumThreads() >= CpuCount()): only
// then do the pool's workers and a step's replay thread run as batch threads (below). With a CPU to
// spare (one thread on two CPUs) SCHED_BATCH buys nothing, since the event loop has a CPU of its own
// to wake on, and an earlier measurement found it slowed decode steps there (a later A/B on a
// 1-thread decode of a d-1280 model saw no difference either way, within noise).
bool ThreadsUseEveryCpu();

// While alive, the calling thread runs as a batch (CPU-bound) thread (Linux SCHED_BATCH; elsewhere
// nothing), if `enable` (by default: when ThreadsUseEveryCpu()): the scheduler lets a waking
// interactive thread, Node's event loop, preempt it at once instead of waiting out its time slice. A
// recorded step's replay (tape.cc) holds one on its libuv thread; the pool's workers switch as the
// thread count changes (SetBatch). Unprivileged and reversible, unlike raising the nice value. A
// thread whose policy is not SCHED_OTHER (a real-time or idle one) is left alone.
class BatchPriority {
 public:
  explicit BatchPriority(bool enable = ThreadsUseEveryCpu());
  ~BatchPriority();
  BatchPriority(const BatchPriority&) = delete;
  BatchPriority& operator=(const BatchPriority&) = delete;
  // Switches the thread to SCHED_BATCH (true) or back to its policy before (false); a no-op when it
  // is so already.
  void SetBatch(bool enable);

 private:
  int policy_ = -1;  // the thread's policy before, while it runs as a batch thread; else -1
  bool untouchable_ = false;  // its policy was neither SCHED_OTHER nor SCHED_BATCH
};

}  // namespace cpu
}  // namespace bminf
