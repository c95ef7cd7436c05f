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
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace bminf {
namespace cpu {

namespace {

thread_local bool t_in_pool = false;

class Pool {
 public:
  explicit Pool(int threads) { SetThreads(threads); }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  // Workers beyond the count stay asleep (they skip the regions they wake for); more are started
  // when the count grows past those running. Never joined: the pool lives as long as the process (it
  // is leaked on purpose, so that exit does not wait on threads blocked in a condition variable).
  void SetThreads(int threads) {
    std::lock_guard<std::mutex> busy(run_mutex_);  // not while a region runs
    for (int i = started_; i < threads - 1; i++) std::thread([this, i] { Work(i + 1); }).detach();
    started_ = std::max(started_, threads - 1);
    threads_.store(threads, std::memory_order_relaxed);
  }

  void Run(int64_t chunks, const std::function<void(int64_t)>* fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || threads() == 1) {  // another JS thread holds the pool: run here
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

  // Worker `index` (1-based; the caller is 0) takes part in regions while index < threads().
  void Work(int index) {
    // For the thread's life (it only ever computes), while the threads cover every CPU.
    BatchPriority batch(false);
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
      if (job && index < threads()) {
        batch.SetBatch(threads() >= CpuCount());  // a syscall only when the thread count crossed CpuCount()
        Drain(*job);
      }
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

  std::atomic<int> threads_{1};
  int started_ = 0;        // workers started (guarded by run_mutex_)
  std::mutex run_mutex_;  // one parallel region (or thread-count change) at a time
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
};

constexpr int kMaxThreads = 256;

int DefaultThreads() {
  const char* v = std::getenv("BMINF_CPU_THREADS");
  int n = v ? std::atoi(v) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, std::min(n, kMaxThreads));
}

Pool& GetPool() {
  static Pool* pool = new Pool(DefaultThreads());
  return *pool;
}

}  // namespace

int NumThreads() { return GetPool().threads(); }

void SetNumThreads(int threads) {
  GetPool().SetThreads(threads <= 0 ? DefaultThreads() : std::min(threads, kMaxThreads));
}

void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  Pool& pool = GetPool();
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(pool.threads()) * 4);
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

int CpuCount() {
  static const int n = [] {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }();
  return n;
}

bool ThreadsUseEveryCpu() { return NumThreads() >= CpuCount(); }

BatchPriority::BatchPriority(bool enable) { SetBatch(enable); }

BatchPriority::~BatchPriority() { SetBatch(false); }

void BatchPriority::SetBatch(bool enable) {
#if defined(__linux__)
  if (untouchable_ || enable == (policy_ >= 0)) return;
  if (enable) {
    sched_param param{};
    int policy = 0;
    if (pthread_getschedparam(pthread_self(), &policy, &param) != 0 || policy != SCHED_OTHER) {
      untouchable_ = true;
      return;
    }
    sched_param batch{};
    if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch) == 0) policy_ = policy;
  } else {
    sched_param param{};
    pthread_setschedparam(pthread_self(), policy_, &param);
    policy_ = -1;
  }
#else
  (void)enable;
#endif
}

}  // namespace cpu
}  // namespace bminf
