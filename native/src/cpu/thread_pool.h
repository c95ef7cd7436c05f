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

// While alive, the calling thread runs as a batch (CPU-bound) thread (Linux SCHED_BATCH; elsewhere
// nothing): the scheduler lets a waking interactive thread, Node's event loop, preempt it at once
// instead of waiting out its time slice. The pool's workers always run so; a recorded step's replay
// (tape.cc) holds one on its libuv thread. Unprivileged and reversible, unlike raising the nice value.
class BatchPriority {
 public:
  BatchPriority();
  ~BatchPriority();
  BatchPriority(const BatchPriority&) = delete;
  BatchPriority& operator=(const BatchPriority&) = delete;

 private:
  int policy_ = -1;
};

}  // namespace cpu
}  // namespace bminf
