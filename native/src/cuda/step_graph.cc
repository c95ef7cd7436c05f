// A whole planned step as one CUDA graph (ggml-cuda and llama.cpp capture their decode step the same
// way): beginStepCapture() starts capturing the addon's stream, the step's ops are issued from JS as
// usual (queued into the capture instead of run), endStepCapture() instantiates the graph, and
// runStepGraph() launches it and resolves a Promise when it is done, waiting on a worker thread so the
// JS thread never blocks on the GPU. While capturing, the per-launch and per-igemm graphs are off
// (State::capturing), and host reads are refused by @bminf/kernels before they reach the driver.
#include <string>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {

const napi_type_tag kStepGraphTag = {0x6d1f3a2c9b5e4d70ULL, 0x8a41c2f3e5b60719ULL};

namespace {

struct StepGraph {
  CUgraphExec exec = nullptr;
  CUevent done = nullptr;
  bool running = false;
  bool disposed = false;
};

void DestroyStepGraph(StepGraph* g) {
  State& s = Init();
  if (s.available) {
    if (g->exec) s.drv.cuGraphExecDestroy(g->exec);
    if (g->done) s.drv.cuEventDestroy(g->done);
  }
  g->exec = nullptr;
  g->done = nullptr;
}

Napi::Value BeginStepCapture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!s.drv.cuStreamBeginCapture || !s.drv.cuGraphInstantiateWithFlags) {
    ThrowError(env, "beginStepCapture: this CUDA driver has no stream capture (CUDA graphs need a CUDA 10+ driver).", "BMINF_UNSUPPORTED");
  }
  if (s.capturing) ThrowError(env, "beginStepCapture: a step is already being captured.", "BMINF_INVALID_ARGUMENT");
  CheckDrv(env, s.drv.cuStreamBeginCapture(s.stream, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
  s.capturing = true;
  return env.Undefined();
}

// endStepCapture(keep: boolean) -> step graph handle, or undefined when keep is false (capture
// abandoned after an error in the step's ops).
Napi::Value EndStepCapture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!s.capturing) ThrowError(env, "endStepCapture: no step is being captured.", "BMINF_INVALID_ARGUMENT");
  s.capturing = false;
  CUgraph graph = nullptr;
  const CUresult r = s.drv.cuStreamEndCapture(s.stream, &graph);
  const bool keep = info.Length() < 1 || !info[0].IsBoolean() || info[0].As<Napi::Boolean>().Value();
  if (!keep) {
    if (graph) s.drv.cuGraphDestroy(graph);
    return env.Undefined();
  }
  if (r != CUDA_SUCCESS || !graph) {
    if (graph) s.drv.cuGraphDestroy(graph);
    ThrowError(env, "endStepCapture: the step could not be captured as a CUDA graph (" + DriverError(r) +
                        "); an op inside it synchronised or read back to the host.", "BMINF_CUDA_ERROR");
  }
  auto* g = new StepGraph{};
  const CUresult ri = s.drv.cuGraphInstantiateWithFlags(&g->exec, graph, 0);
  s.drv.cuGraphDestroy(graph);
  if (ri != CUDA_SUCCESS) {
    delete g;
    CheckDrv(env, ri, "cuGraphInstantiateWithFlags");
  }
  const CUresult re = s.drv.cuEventCreate(&g->done, CU_EVENT_DISABLE_TIMING);
  if (re != CUDA_SUCCESS) {
    DestroyStepGraph(g);
    delete g;
    CheckDrv(env, re, "cuEventCreate");
  }
  auto ext = Napi::External<StepGraph>::New(env, g, [](Napi::Env, StepGraph* p) {
    // A run in flight holds a reference to the handle (RunWorker), so this never frees a running graph.
    DestroyStepGraph(p);
    delete p;
  });
  ext.TypeTag(&kStepGraphTag);
  return ext;
}

// Waits for a launched step on a libuv worker thread (the context made current there first).
class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, Napi::Value handle, StepGraph* g)
      : Napi::AsyncWorker(env, "bminf:stepGraph"), deferred_(Napi::Promise::Deferred::New(env)), graph_(g) {
    keep_ = Napi::Persistent(handle);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    State& s = Init();
    CUresult r = s.drv.cuCtxSetCurrent(s.ctx);
    if (r == CUDA_SUCCESS) r = s.drv.cuEventSynchronize(graph_->done);
    if (r != CUDA_SUCCESS) SetError("a planned step failed on the GPU: " + DriverError(r));
  }
  void OnOK() override {
    graph_->running = false;
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    graph_->running = false;
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), "BMINF_CUDA_ERROR"));
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  StepGraph* graph_;
  Napi::Reference<Napi::Value> keep_;
};

// runStepGraph(handle) -> Promise<void>: launches the graph on the stream and resolves when it is done.
Napi::Value RunStepGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  StepGraph* g = Unwrap<StepGraph>(info[0], kStepGraphTag, "step graph", "step");
  if (g->disposed || !g->exec) ThrowError(env, "runStepGraph: this step was disposed.", "BMINF_DISPOSED");
  if (g->running) ThrowError(env, "runStepGraph: this step is still running; await its previous run first.", "BMINF_INVALID_ARGUMENT");
  if (s.capturing) ThrowError(env, "runStepGraph: cannot run a step while another is being captured.", "BMINF_INVALID_ARGUMENT");
  CheckDrv(env, s.drv.cuGraphLaunch(g->exec, s.stream), "cuGraphLaunch (step)");
  CheckDrv(env, s.drv.cuEventRecord(g->done, s.stream), "cuEventRecord");
  g->running = true;
  auto* w = new RunWorker(env, info[0], g);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// disposeStepGraph(handle): frees the graph now (a no-op while it runs: freed when its handle is collected).
Napi::Value DisposeStepGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StepGraph* g = Unwrap<StepGraph>(info[0], kStepGraphTag, "step graph", "step");
  if (g->disposed) return env.Undefined();
  g->disposed = true;
  if (!g->running) DestroyStepGraph(g);
  return env.Undefined();
}

Napi::Value IsCapturing(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Init().capturing);
}

}  // namespace

void RegisterStepGraphs(Napi::Env env, Napi::Object exports) {
  exports.Set("beginStepCapture", Napi::Function::New(env, BeginStepCapture));
  exports.Set("endStepCapture", Napi::Function::New(env, EndStepCapture));
  exports.Set("runStepGraph", Napi::Function::New(env, RunStepGraph));
  exports.Set("disposeStepGraph", Napi::Function::New(env, DisposeStepGraph));
  exports.Set("isCapturing", Napi::Function::New(env, IsCapturing));
}

}  // namespace bminf::cuda
