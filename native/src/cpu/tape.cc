#include "cpu/tape.h"
#include "cpu/thread_pool.h"

#include <chrono>
#include <new>
#include <stdexcept>

namespace bminf {
namespace cpu {

namespace {
// Marks Tape objects, so beginCapture() can tell one from any other object.
const napi_type_tag kTapeTag = {0x3c9e5a7b1d2f4e60ULL, 0x9b8a7c6d5e4f3a21ULL};

// Per JS thread: a worker_thread records its own tapes.
thread_local Tape* t_capturing = nullptr;

// A rejected promise's error: message plus a `kind` the TS side maps to its typed errors
// ("busy", "disposed", "detached", "memory", "failed").
Napi::Error KindError(Napi::Env env, const std::string& message, const char* kind) {
  Napi::Error e = Napi::Error::New(env, "cpu tape: " + message);
  e.Set("kind", Napi::String::New(env, kind));
  return e;
}

Napi::Value Rejected(Napi::Env env, const std::string& message, const char* kind) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(KindError(env, message, kind).Value());
  return d.Promise();
}
}  // namespace

namespace detail {
std::atomic<int> g_recording{0};
std::atomic<int> g_replaying{0};
Tape* CapturingTapeOfThisThread() { return t_capturing; }
}  // namespace detail

std::mutex& WorkMutex() {
  static std::mutex* m = new std::mutex();  // leaked: outlives every thread that may still lock it
  return *m;
}

// Replays a tape on a libuv worker thread and settles the promise run() returned.
class ReplayWorker : public Napi::AsyncWorker {
 public:
  ReplayWorker(Napi::Env env, Tape* tape)
      : Napi::AsyncWorker(env, "bminf:cpuTape"), deferred_(Napi::Promise::Deferred::New(env)), tape_(tape) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    // When the step's threads use every CPU: the event loop then preempts the replay at once when it
    // wakes (with a CPU to spare it runs there, and SCHED_BATCH only slows the step).
    BatchPriority batch;
    try {
      tape_->Replay();
    } catch (const std::bad_alloc&) {
      kind_ = "memory";
      SetError("out of memory for an op's scratch buffers.");
    } catch (const std::exception& e) {
      kind_ = "failed";
      SetError(e.what());
    } catch (...) {
      kind_ = "failed";
      SetError("an op failed.");
    }
  }
  void OnOK() override {
    tape_->Finished();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    tape_->Finished();
    deferred_.Reject(KindError(Env(), e.Message(), kind_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Tape* tape_;
  const char* kind_ = "failed";
};

Napi::Function Tape::Define(Napi::Env env) {
  return DefineClass(env, "Tape",
                     {
                         InstanceMethod<&Tape::Run>("run"),
                         InstanceMethod<&Tape::RunInline>("runInline"),
                         InstanceMethod<&Tape::Dispose>("dispose"),
                         InstanceAccessor<&Tape::Length>("length"),
                         InstanceAccessor<&Tape::Running>("running"),
                         InstanceAccessor<&Tape::LastRunMicros>("lastRunMicros"),
                     });
}

Tape::Tape(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tape>(info) {
  napi_type_tag_object(info.Env(), info.This(), &kTapeTag);
}

Tape::~Tape() {
  // Unreachable while recording (BeginCapture() holds a reference), but never leave a dangling pointer.
  if (recording_) StopRecording();
}

void Tape::StopRecording() {
  if (t_capturing == this) t_capturing = nullptr;
  recording_ = false;
  detail::g_recording.fetch_sub(1);
}

void Tape::Append(const Args& args, std::function<void()> work) {
  for (napi_value b : args.buffers()) {
    void* data = nullptr;
    size_t length = 0;
    // A SharedArrayBuffer is not an ArrayBuffer to N-API, but it can never be detached either.
    if (napi_get_arraybuffer_info(args.env(), b, &data, &length) != napi_ok) data = nullptr, length = 0;
    const void* key = data ? data : static_cast<const void*>(b);
    if (data && !seen_.insert(key).second) continue;
    buffers_.push_back({Napi::Reference<Napi::Value>::New(Napi::Value(args.env(), b), 1), data, length});
  }
  ops_.push_back({args.op(), std::move(work)});
}

void Tape::Replay() {
  std::lock_guard<std::mutex> lock(WorkMutex());
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < ops_.size(); i++) {
    try {
      ops_[i].work();
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error("op " + std::to_string(i) + " (" + ops_[i].name + "): " + e.what());
    }
  }
  last_run_us_.store(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

void Tape::Finished() {
  running_ = false;
  detail::g_replaying.fetch_sub(1);
  if (disposed_) Free();
  Unref();  // taken by Run()
}

void Tape::Free() {
  ops_.clear();
  ops_.shrink_to_fit();
  buffers_.clear();
  buffers_.shrink_to_fit();
  seen_.clear();
}

const char* Tape::Unrunnable(Napi::Env env, const char** kind) {
  *kind = "disposed";
  if (disposed_) return "this tape was disposed.";
  *kind = "busy";
  if (!recorded_) return "this tape is still being recorded (call endCapture() first).";
  if (running_) return "this tape is already running; await its previous run() first.";
  for (const Buffer& b : buffers_) {
    if (!b.data) continue;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_arraybuffer_info(env, b.ref.Value(), &data, &length) != napi_ok || data != b.data || length < b.byteLength) {
      *kind = "detached";
      return "a buffer the tape uses was detached or moved since it was recorded.";
    }
  }
  return nullptr;
}

// run() -> Promise<void>: replays every op in order on a worker thread. Rejects (never throws) when
// the tape is disposed, still recording, already running (runs never overlap or queue: await the
// previous one), or a buffer it uses was detached since; and when an op fails (its name and index in
// the message).
Napi::Value Tape::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* kind = nullptr;
  if (const char* why = Unrunnable(env, &kind)) return Rejected(env, why, kind);
  running_ = true;
  detail::g_replaying.fetch_add(1);
  Ref();  // the tape, and so the buffers it references, outlive the run even if JS drops it
  auto* w = new ReplayWorker(env, this);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// runInline(): replays every op in order on the calling (JS) thread and returns when done; throws
// the errors run() rejects with (the same messages and `kind`). For steps so short that handing them
// to a worker thread and waking the event loop afterwards would cost a large share of the step
// (CpuStepGraph decides, from lastRunMicros).
Napi::Value Tape::RunInline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* kind = nullptr;
  if (const char* why = Unrunnable(env, &kind)) throw KindError(env, why, kind);
  // Raised as run() raises it: an eager op of another JS thread then waits on WorkMutex().
  detail::g_replaying.fetch_add(1);
  running_ = true;
  std::string error;
  kind = nullptr;
  try {
    Replay();
  } catch (const std::bad_alloc&) {
    kind = "memory";
    error = "out of memory for an op's scratch buffers.";
  } catch (const std::exception& e) {
    kind = "failed";
    error = e.what();
  } catch (...) {
    kind = "failed";
    error = "an op failed.";
  }
  running_ = false;
  detail::g_replaying.fetch_sub(1);
  if (kind) throw KindError(env, error, kind);
  return env.Undefined();
}

// dispose(): frees the recorded ops and releases the buffers; while a run is in flight, when it ends.
Napi::Value Tape::Dispose(const Napi::CallbackInfo& info) {
  if (disposed_) return info.Env().Undefined();
  disposed_ = true;
  if (recording_) {
    StopRecording();
    Unref();  // taken by BeginCapture()
  }
  if (!running_) Free();
  return info.Env().Undefined();
}

Napi::Value Tape::Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(ops_.size())); }

Napi::Value Tape::Running(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), running_); }

Napi::Value Tape::LastRunMicros(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), last_run_us_.load()); }

// beginCapture(tape): ops called on this thread are appended to `tape` instead of run, until
// endCapture(). A tape is recorded once.
Napi::Value Tape::BeginCapture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "cpu.beginCapture: expected one Tape.");
  Napi::Object o = info[0].As<Napi::Object>();
  bool isTape = false;
  if (napi_check_object_type_tag(env, o, &kTapeTag, &isTape) != napi_ok || !isTape) {
    throw Napi::TypeError::New(env, "cpu.beginCapture: expected a Tape (new cpu.Tape()).");
  }
  Tape* tape = Tape::Unwrap(o);
  if (t_capturing) throw Napi::Error::New(env, "cpu.beginCapture: a tape is already being recorded on this thread.");
  if (tape->disposed_ || tape->recorded_) throw Napi::Error::New(env, "cpu.beginCapture: this tape was already recorded (or disposed).");
  tape->recording_ = true;
  tape->Ref();  // kept alive while recording, whatever JS holds
  t_capturing = tape;
  detail::g_recording.fetch_add(1);
  return env.Undefined();
}

// endCapture(): stops recording; the tape can run from now on. A no-op when nothing is being recorded.
Napi::Value Tape::EndCapture(const Napi::CallbackInfo& info) {
  Tape* tape = t_capturing;
  if (!tape) return info.Env().Undefined();
  tape->StopRecording();
  tape->recorded_ = true;
  tape->Unref();
  return info.Env().Undefined();
}

}  // namespace cpu
}  // namespace bminf
