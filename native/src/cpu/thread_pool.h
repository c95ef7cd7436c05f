// A small persistent thread pool. Ops split their work into index ranges and run them on
// hardware_concurrency threads (BMINF_CPU_THREADS overrides), the calling thread included.
#pragma once
#include <cstdint>
#include <functional>

namespace bminf {
namespace cpu {

int NumThreads();

// The least work worth a parallel region: waking a thread costs tens of microseconds (far more on a
// machine busy with other processes), so ops split their work only into pieces of at least this many
// elements (elementwise ops) or multiply-adds (GEMMs). A decode step's ops mostly run inline.
constexpr int64_t kGrainElements = int64_t(1) << 16;
constexpr int64_t kGrainMacs = int64_t(1) << 21;

// Calls fn(begin, end) on disjoint ranges of about equal length covering [0, n), in parallel, and
// returns when all are done; there are at most ceil(n / grain) of them (and at most 4 per thread). Runs inline when the work is small, when called from
// inside a parallel region, or when another JS thread (a worker) is using the pool.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace cpu
}  // namespace bminf
