#include "cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bminf {
namespace cpu {

namespace {

thread_local bool t_in_pool = false;

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads_; i++) workers_.emplace_back([this] { Work(); });
    // Never joined: the pool lives as long as the process (it is leaked on purpose, so that exit does
    // not wait on threads blocked in a condition variable).
    for (auto& w : workers_) w.detach();
  }

  int threads() const { return threads_; }

  void Run(int64_t chunks, const std::function<void(int64_t)>* fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || threads_ == 1) {  // another JS thread holds the pool: run here
      for (int64_t c = 0; c < chunks; c++) (*fn)(c);
      return;
    }
    auto job = std::make_shared<Job>();
    job->fn = fn;
    job->chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    Drain(*job);
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return job->done.load() == chunks; });
    job_.reset();
    // A chunk that threw (out of memory for its scratch buffers) fails the whole call, on the
    // calling thread, where the op turns it into a JS error.
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  // One parallel region. Workers hold it by shared_ptr, so one that wakes late finds its chunks
  // all taken and never touches the next region's state.
  struct Job {
    const std::function<void(int64_t)>* fn = nullptr;
    int64_t chunks = 0;
    std::atomic<int64_t> next{0}, done{0};
    std::exception_ptr error;  // the first exception a chunk threw (guarded by the pool's mutex_)
  };

  void Drain(Job& job) {
    bool prev = t_in_pool;
    t_in_pool = true;
    for (;;) {
      int64_t c = job.next.fetch_add(1);
      if (c >= job.chunks) break;
      try {
        (*job.fn)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!job.error) job.error = std::current_exception();
      }
      if (job.done.fetch_add(1) + 1 == job.chunks) {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.notify_all();
      }
    }
    t_in_pool = prev;
  }

  void Work() {
    uint64_t seen = 0;
    for (;;) {
      // Spin a little before sleeping: ops come back to back (a decode step is hundreds of small
      // ones), and waking a sleeping thread costs tens of microseconds, as much as a small op.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 1; generation_.load(std::memory_order_acquire) == seen; i++) {
        Pause();
        if (i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
      }
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        job = job_;
      }
      if (job) Drain(*job);
    }
  }

  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // How long a worker spins: about the gap between the parallel ops of a decode step, short enough
  // not to hold a core long after the work stops.
  static constexpr std::chrono::microseconds kSpin{100};

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one parallel region at a time
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
};

int ThreadCount() {
  const char* v = std::getenv("BMINF_CPU_THREADS");
  int n = v ? std::atoi(v) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, std::min(n, 256));
}

Pool& GetPool() {
  static Pool* pool = new Pool(ThreadCount());
  return *pool;
}

}  // namespace

int NumThreads() { return GetPool().threads(); }

void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  Pool& pool = GetPool();
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, pool.threads() * 4);
  if (chunks <= 1 || t_in_pool) {
    fn(0, n);
    return;
  }
  // Equal chunks, so that threads finish together (a chunk may come out a little under the grain).
  const int64_t per = (n + chunks - 1) / chunks;
  chunks = (n + per - 1) / per;
  std::function<void(int64_t)> body = [&](int64_t c) { fn(c * per, std::min(n, (c + 1) * per)); };
  pool.Run(chunks, &body);
}

}  // namespace cpu
}  // namespace bminf
