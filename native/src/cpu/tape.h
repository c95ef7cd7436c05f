// Recorded steps on the CPU. Every op is split in two: the N-API function checks and binds its
// arguments (on the JS thread), then hands the work, a closure over raw pointers and scalars copied by
// value, to Launch(). Normally Launch() runs it at once. Between beginCapture(tape) and endCapture()
// it appends it to the tape instead, and tape.run() later replays the whole tape on a worker thread,
// so a planned step (a decode step of a model) runs off the JS thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cpu/args.h"

namespace bminf {
namespace cpu {

class Tape;

namespace detail {
// Tapes being recorded and replays in flight, on any thread: the eager path reads only these two
// counters (relaxed loads), no thread-local lookup and no lock, unless one is non-zero.
extern std::atomic<int> g_recording;
extern std::atomic<int> g_replaying;
Tape* CapturingTapeOfThisThread();
}  // namespace detail

// The tape this JS thread is recording into, or null when ops run at once.
inline Tape* CapturingTape() {
  return detail::g_recording.load(std::memory_order_relaxed) ? detail::CapturingTapeOfThisThread() : nullptr;
}

// Held by a replay for the whole tape, and by an eager op while a replay is in flight. So an eager op
// issued while a replay runs waits for the replay to finish (blocking the JS thread that issued it),
// and the two never compete for the thread pool. (g_replaying is raised by run() on the JS thread
// before the replay is queued, and lowered there after it ended, so an op on that thread always sees
// it; an op on another JS thread (a worker_thread) that misses it only shares the pool, which is
// safe: the pool runs a second caller's work inline.)
std::mutex& WorkMutex();

class Tape : public Napi::ObjectWrap<Tape> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tape(const Napi::CallbackInfo& info);
  ~Tape() override;

  // Appends one op's work and keeps alive every ArrayBuffer its arguments point into.
  void Append(const Args& args, std::function<void()> work);

  // beginCapture(tape) / endCapture(): exported from register.cc.
  static Napi::Value BeginCapture(const Napi::CallbackInfo& info);
  static Napi::Value EndCapture(const Napi::CallbackInfo& info);

 private:
  friend class ReplayWorker;
  struct Op {
    std::string name;
    std::function<void()> work;
  };
  // A buffer the ops point into: held by reference until the tape is freed; its address and length
  // when recorded, checked again before each run (a transferred or detached buffer would leave the
  // recorded pointers dangling).
  struct Buffer {
    Napi::Reference<Napi::Value> ref;
    const void* data;
    size_t byteLength;
  };

  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value RunInline(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value Running(const Napi::CallbackInfo& info);
  Napi::Value LastRunMicros(const Napi::CallbackInfo& info);
  // Why run() or runInline() may not start now (null when it may); kind_ names the error's kind.
  const char* Unrunnable(Napi::Env env, const char** kind);
  // Runs every op in order (on the worker thread, or inline); throws what an op threw, naming it.
  // Records how long it took in last_run_us_.
  void Replay();
  void Free();
  void Finished();
  void StopRecording();

  std::vector<Op> ops_;
  std::vector<Buffer> buffers_;
  std::unordered_set<const void*> seen_;  // buffers_'s data pointers
  bool recording_ = false;
  bool recorded_ = false;  // endCapture() was called: the tape can run
  bool running_ = false;
  bool disposed_ = false;
  // Microseconds the last replay took (-1 before the first): the JS side runs short steps inline.
  std::atomic<double> last_run_us_{-1};
};

// Runs `work` now, holding WorkMutex(), or appends it to the tape being recorded. The eager path is a
// plain call of the lambda: no std::function, no allocation.
template <typename F>
Napi::Value Launch(const Args& args, F&& work) {
  if (Tape* tape = CapturingTape()) {
    tape->Append(args, std::function<void()>(std::forward<F>(work)));
  } else if (detail::g_replaying.load(std::memory_order_acquire) == 0) {
    work();
  } else {
    std::lock_guard<std::mutex> lock(WorkMutex());
    work();
  }
  return args.env().Undefined();
}

}  // namespace cpu
}  // namespace bminf
