// A small persistent thread pool. Ops split their work into index ranges and run them on
// hardware_concurrency threads (BMINF_CPU_THREADS overrides), the calling thread included.
#pragma once
#include <cstdint>
#include <functional>

namespace bminf {
namespace cpu {

int NumThreads();

// Calls fn(begin, end) on disjoint ranges covering [0, n), each at least `grain` long (but the last),
// in parallel, and returns when all are done. Runs inline when the work is small, when called from
// inside a parallel region, or when another JS thread (a worker) is using the pool.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace cpu
}  // namespace bminf
