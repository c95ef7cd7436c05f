// Streaming layers from host memory (BMInf's way of running a model larger than the GPU): pinned host
// regions hold the weights of the blocks that do not stay on the device, and a second stream copies a
// block into a device slot while the main stream computes the one before. Events order the two: a
// copy waits for the slot's "free" event (recorded on the main stream after the slot's last use) and
// records its "ready" event, which the main stream waits on before the block's first kernel. Inside a
// step capture the same calls become graph nodes and edges (the copy stream joins the capture through
// the first event it waits on, and rejoins through every "ready" the main stream waits on).
#include <atomic>
#include <cstring>
#include <string>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {

namespace {

const napi_type_tag kHostRegionTag = {0x6b6d696e66726567ULL, 0x0000000000000011ULL};

struct HostRegion {
  void* ptr = nullptr;
  size_t size = 0;
  bool freed = false;
};

// Pinned bytes and regions alive, for leak checks (pinnedStats()).
std::atomic<int64_t> g_pinnedBytes{0};
std::atomic<int64_t> g_pinnedRegions{0};

void FreeHost(HostRegion* r) {
  if (r->freed || !r->ptr) return;
  State& s = Init();
  if (s.available) {
    // A copy queued from it may still be running on either stream.
    if (s.copyStream) s.drv.cuStreamSynchronize(s.copyStream);
    s.drv.cuStreamSynchronize(s.stream);
    s.drv.cuMemFreeHost(r->ptr);
  }
  g_pinnedBytes -= static_cast<int64_t>(r->size);
  g_pinnedRegions -= 1;
  r->freed = true;
  r->ptr = nullptr;
}

HostRegion* LiveHost(const Napi::Value& v, const char* arg) {
  HostRegion* r = Unwrap<HostRegion>(v, kHostRegionTag, "pinned host region", arg);
  if (r->freed) ThrowError(v.Env(), std::string(arg) + ": the pinned host region was already released.", "BMINF_DISPOSED");
  return r;
}

// Bytes [off, off + len) of a host region, checked.
uint8_t* HostAt(const Napi::CallbackInfo& info, size_t i, size_t len, const char* arg) {
  HostRegion* r = LiveHost(info[i], arg);
  int64_t off = ToIndex(info[i + 1], arg);
  if (static_cast<uint64_t>(off) > r->size || len > r->size - static_cast<uint64_t>(off)) {
    ThrowRange(info.Env(), std::string(arg) + ": bytes " + std::to_string(off) + ".." + std::to_string(off + static_cast<int64_t>(len)) +
                               " lie outside the pinned host region of " + std::to_string(r->size) + " bytes.");
  }
  return static_cast<uint8_t*>(r->ptr) + off;
}

CUstream CopyStream(Napi::Env env, State& s) {
  if (!s.copyStream) CheckDrv(env, s.drv.cuStreamCreate(&s.copyStream, CU_STREAM_NON_BLOCKING), "cuStreamCreate (copy stream)");
  return s.copyStream;
}

Event* LiveEvent(const Napi::Value& v, const char* arg) {
  Event* e = Unwrap<Event>(v, kEventTag, "event", arg);
  if (!e->ev) ThrowError(v.Env(), std::string(arg) + ": the event was destroyed.", "BMINF_DISPOSED");
  return e;
}

// hostReserve(bytes) -> pinned host region (page-locked, so copies from it run at the bus's speed and
// can be captured into a graph).
Napi::Value HostReserve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  int64_t bytes = ToIndex(info[0], "bytes");
  if (bytes == 0) ThrowRange(env, "hostReserve: bytes must be positive.");
  void* p = nullptr;
  CUresult r = s.drv.cuMemHostAlloc(&p, static_cast<size_t>(bytes), CU_MEMHOSTALLOC_PORTABLE);
  if (r != CUDA_SUCCESS) {
    ThrowError(env, "hostReserve: could not pin " + std::to_string(bytes) + " bytes of host memory (" + DriverError(r) +
                        "); the machine lacks the memory, or its locked-memory limit (ulimit -l) is too low.",
               "BMINF_HOST_OOM");
  }
  auto* h = new HostRegion{p, static_cast<size_t>(bytes), false};
  g_pinnedBytes += bytes;
  g_pinnedRegions += 1;
  auto ext = Napi::External<HostRegion>::New(env, h, [](Napi::Env, HostRegion* r) {
    FreeHost(r);
    delete r;
  });
  ext.TypeTag(&kHostRegionTag);
  return ext;
}

// hostRelease(region): gives the pinned memory back now (after queued copies from it are done).
Napi::Value HostRelease(const Napi::CallbackInfo& info) {
  HostRegion* r = Unwrap<HostRegion>(info[0], kHostRegionTag, "pinned host region", "region");
  FreeHost(r);
  return info.Env().Undefined();
}

// hostWrite(region, byteOffset, typedArray): copies the array's bytes into the region.
Napi::Value HostWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[2].IsTypedArray()) ThrowType(env, "hostWrite: data must be a TypedArray.");
  auto ta = info[2].As<Napi::TypedArray>();
  uint8_t* dst = HostAt(info, 0, ta.ByteLength(), "hostWrite");
  std::memcpy(dst, static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength());
  return env.Undefined();
}

// hostRead(region, byteOffset, typedArray): fills the array from the region (waits for queued copies).
Napi::Value HostRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (info.Length() < 3 || !info[2].IsTypedArray()) ThrowType(env, "hostRead: out must be a TypedArray.");
  auto ta = info[2].As<Napi::TypedArray>();
  uint8_t* src = HostAt(info, 0, ta.ByteLength(), "hostRead");
  CheckDrv(env, s.drv.cuStreamSynchronize(s.stream), "cuStreamSynchronize");
  std::memcpy(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), src, ta.ByteLength());
  return env.Undefined();
}

// hostFromDevice(region, byteOffset, deviceRegion, deviceOffset, byteLength): device bytes into pinned
// memory, after the work queued on the main stream (weights drawn or converted on the GPU).
Napi::Value HostFromDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  size_t len;
  CUdeviceptr src = SpanAt(info, 2, "source", &len);
  uint8_t* dst = HostAt(info, 0, len, "hostFromDevice");
  if (len) {
    CheckDrv(env, s.drv.cuMemcpyDtoHAsync(dst, src, len, s.stream), "cuMemcpyDtoHAsync");
    CheckDrv(env, s.drv.cuStreamSynchronize(s.stream), "cuStreamSynchronize");
  }
  return env.Undefined();
}

// streamIn(hostRegion, hostOffset, deviceRegion, deviceOffset, byteLength, freeEvent, readyEvent): on
// the copy stream, waits for `freeEvent` (the slot's previous user is done), copies the bytes to the
// device and records `readyEvent`.
Napi::Value StreamIn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (info.Length() < 7) ThrowType(env, "streamIn(hostRegion, hostOffset, deviceRegion, deviceOffset, byteLength, freeEvent, readyEvent) takes 7 arguments.");
  size_t len;
  CUdeviceptr dst = SpanAt(info, 2, "destination", &len);
  uint8_t* src = HostAt(info, 0, len, "streamIn");
  Event* freeEv = LiveEvent(info[5], "freeEvent");
  Event* ready = LiveEvent(info[6], "readyEvent");
  CUstream cs = CopyStream(env, s);
  CheckDrv(env, s.drv.cuStreamWaitEvent(cs, freeEv->ev, 0), "cuStreamWaitEvent (copy stream)");
  if (len) CheckDrv(env, s.drv.cuMemcpyHtoDAsync(dst, src, len, cs), "cuMemcpyHtoDAsync (copy stream)");
  CheckDrv(env, s.drv.cuEventRecord(ready->ev, cs), "cuEventRecord (copy stream)");
  return env.Undefined();
}

// waitEvent(event): the main stream waits for it (a streamed block's copy) before its next work.
Napi::Value WaitEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Event* e = LiveEvent(info[0], "event");
  CheckDrv(env, s.drv.cuStreamWaitEvent(s.stream, e->ev, 0), "cuStreamWaitEvent");
  return env.Undefined();
}

// fenceCreate() -> an event without timing (cheaper to record and wait on), for ordering streams.
Napi::Value FenceCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  auto* e = new Event{};
  CUresult r = s.drv.cuEventCreate(&e->ev, CU_EVENT_DISABLE_TIMING);
  if (r != CUDA_SUCCESS) {
    delete e;
    CheckDrv(env, r, "cuEventCreate");
  }
  auto ext = Napi::External<Event>::New(env, e, [](Napi::Env, Event* p) {
    State& st = Init();
    if (st.available && p->ev) st.drv.cuEventDestroy(p->ev);
    delete p;
  });
  ext.TypeTag(&kEventTag);
  return ext;
}

// copyStreamSynchronize(): waits for every queued copy (bandwidth measurements, tests).
Napi::Value CopyStreamSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (s.copyStream) CheckDrv(env, s.drv.cuStreamSynchronize(s.copyStream), "cuStreamSynchronize (copy stream)");
  return env.Undefined();
}

Napi::Value PinnedStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(g_pinnedBytes.load())));
  o.Set("regions", Napi::Number::New(env, static_cast<double>(g_pinnedRegions.load())));
  return o;
}

}  // namespace

void RegisterStreaming(Napi::Env env, Napi::Object exports) {
  exports.Set("hostReserve", Napi::Function::New(env, HostReserve));
  exports.Set("hostRelease", Napi::Function::New(env, HostRelease));
  exports.Set("hostWrite", Napi::Function::New(env, HostWrite));
  exports.Set("hostRead", Napi::Function::New(env, HostRead));
  exports.Set("hostFromDevice", Napi::Function::New(env, HostFromDevice));
  exports.Set("streamIn", Napi::Function::New(env, StreamIn));
  exports.Set("waitEvent", Napi::Function::New(env, WaitEvent));
  exports.Set("fenceCreate", Napi::Function::New(env, FenceCreate));
  exports.Set("copyStreamSynchronize", Napi::Function::New(env, CopyStreamSynchronize));
  exports.Set("pinnedStats", Napi::Function::New(env, PinnedStats));
}

}  // namespace bminf::cuda
