// Device memory: reservations (the device pool carves them in TypeScript), copies between host and
// device through pinned staging buffers, device-to-device copies, fills, the stream and events.
#include <cstring>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {
namespace {

// Two pinned staging buffers used alternately, so that copying the next chunk on the host overlaps
// the DMA of the previous one. Each has an event that marks when the device is done with it.
constexpr size_t kStagingBytes = 8u << 20;
struct Staging {
  void* host[2] = {nullptr, nullptr};
  CUevent done[2] = {nullptr, nullptr};
};
Staging g_staging;

Staging& GetStaging(Napi::Env env, State& s) {
  if (!g_staging.host[0]) {
    for (int i = 0; i < 2; i++) {
      CheckDrv(env, s.drv.cuMemHostAlloc(&g_staging.host[i], kStagingBytes, CU_MEMHOSTALLOC_PORTABLE), "cuMemHostAlloc");
      CheckDrv(env, s.drv.cuEventCreate(&g_staging.done[i], CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    }
  }
  return g_staging;
}

void FreeRegion(Napi::Env, Region* r) {
  if (!r->freed && r->ptr) {
    State& s = Init();
    if (s.available) s.drv.cuMemFree(r->ptr);
  }
  delete r;
}

Napi::Value Reserve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  int64_t bytes = ToIndex(info[0], "bytes");
  if (bytes == 0) ThrowRange(env, "bytes must be positive.");
  CUdeviceptr p = 0;
  CheckDrv(env, s.drv.cuMemAlloc(&p, static_cast<size_t>(bytes)), "cuMemAlloc");
  auto* r = new Region{p, static_cast<size_t>(bytes), false};
  auto ext = Napi::External<Region>::New(env, r, FreeRegion);
  ext.TypeTag(&kRegionTag);
  return ext;
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = Unwrap<Region>(info[0], kRegionTag, "device region", "region");
  if (r->freed) return env.Undefined();
  State& s = Ready(env);
  // Work queued on the stream may still read the region: wait for it before giving it back.
  s.drv.cuStreamSynchronize(s.stream);
  CheckDrv(env, s.drv.cuMemFree(r->ptr), "cuMemFree");
  r->freed = true;
  r->ptr = 0;
  return env.Undefined();
}

Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  size_t free = 0, total = 0;
  CheckDrv(env, s.drv.cuMemGetInfo(&free, &total), "cuMemGetInfo");
  Napi::Object o = Napi::Object::New(env);
  o.Set("free", Napi::Number::New(env, static_cast<double>(free)));
  o.Set("total", Napi::Number::New(env, static_cast<double>(total)));
  return o;
}

// Host bytes of a TypedArray / Buffer / DataView argument.
void HostBytes(const Napi::Value& v, const char* arg, uint8_t** data, size_t* len) {
  if (!v.IsTypedArray()) ThrowType(v.Env(), std::string(arg) + " must be a TypedArray.");
  auto ta = v.As<Napi::TypedArray>();
  *data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  *len = ta.ByteLength();
}

// upload(region, byteOffset, typedArray): queues the copy of the whole array to the device. The
// array may be reused as soon as this returns (its bytes are already in pinned memory).
Napi::Value Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  uint8_t* src;
  size_t len;
  HostBytes(info[3], "data", &src, &len);
  size_t spanLen;
  CUdeviceptr dst = SpanAt(info, 0, "destination", &spanLen);
  if (len != spanLen) ThrowRange(env, "upload: the data has " + std::to_string(len) + " bytes but the destination " + std::to_string(spanLen) + ".");
  Staging& st = GetStaging(env, s);
  for (size_t off = 0, c = 0; off < len; off += kStagingBytes, c++) {
    int b = static_cast<int>(c & 1);
    size_t n = std::min(kStagingBytes, len - off);
    CheckDrv(env, s.drv.cuEventSynchronize(st.done[b]), "cuEventSynchronize");
    std::memcpy(st.host[b], src + off, n);
    CheckDrv(env, s.drv.cuMemcpyHtoDAsync(dst + off, st.host[b], n, s.stream), "cuMemcpyHtoDAsync");
    CheckDrv(env, s.drv.cuEventRecord(st.done[b], s.stream), "cuEventRecord");
  }
  return env.Undefined();
}

// download(region, byteOffset, byteLength, typedArray): waits for the queued work, then fills the array.
Napi::Value Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  uint8_t* out;
  size_t len;
  HostBytes(info[3], "out", &out, &len);
  size_t spanLen;
  CUdeviceptr src = SpanAt(info, 0, "source", &spanLen);
  if (len != spanLen) ThrowRange(env, "download: the output has " + std::to_string(len) + " bytes but the source " + std::to_string(spanLen) + ".");
  Staging& st = GetStaging(env, s);
  size_t pendingOff = 0, pendingLen = 0;
  int pendingBuf = -1;
  for (size_t off = 0, c = 0; off < len; off += kStagingBytes, c++) {
    int b = static_cast<int>(c & 1);
    size_t n = std::min(kStagingBytes, len - off);
    CheckDrv(env, s.drv.cuEventSynchronize(st.done[b]), "cuEventSynchronize");
    CheckDrv(env, s.drv.cuMemcpyDtoHAsync(st.host[b], src + off, n, s.stream), "cuMemcpyDtoHAsync");
    CheckDrv(env, s.drv.cuEventRecord(st.done[b], s.stream), "cuEventRecord");
    if (pendingBuf >= 0) {
      CheckDrv(env, s.drv.cuEventSynchronize(st.done[pendingBuf]), "cuEventSynchronize");
      std::memcpy(out + pendingOff, st.host[pendingBuf], pendingLen);
    }
    pendingBuf = b;
    pendingOff = off;
    pendingLen = n;
  }
  if (pendingBuf >= 0) {
    CheckDrv(env, s.drv.cuEventSynchronize(st.done[pendingBuf]), "cuEventSynchronize");
    std::memcpy(out + pendingOff, st.host[pendingBuf], pendingLen);
  }
  return env.Undefined();
}

// copy(src region, offset, length, dst region, offset, length): device to device, same lengths.
Napi::Value CopyDtoD(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  size_t a, b;
  CUdeviceptr src = SpanAt(info, 0, "source", &a);
  CUdeviceptr dst = SpanAt(info, 3, "destination", &b);
  if (a != b) ThrowRange(env, "copy: source and destination lengths differ (" + std::to_string(a) + " and " + std::to_string(b) + ").");
  if (a) CheckDrv(env, s.drv.cuMemcpyDtoDAsync(dst, src, a, s.stream), "cuMemcpyDtoDAsync");
  return env.Undefined();
}

// fill(region, offset, length, byte)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  size_t n;
  CUdeviceptr dst = SpanAt(info, 0, "destination", &n);
  int64_t v = ToInt(info[3], "value", 0, 255);
  if (n) CheckDrv(env, s.drv.cuMemsetD8Async(dst, static_cast<unsigned char>(v), n, s.stream), "cuMemsetD8Async");
  return env.Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  CheckDrv(env, s.drv.cuStreamSynchronize(s.stream), "cuStreamSynchronize");
  return env.Undefined();
}

void FreeEvent(Napi::Env, Event* e) {
  State& s = Init();
  if (s.available && e->ev) s.drv.cuEventDestroy(e->ev);
  delete e;
}

Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  auto* e = new Event{};
  CUresult r = s.drv.cuEventCreate(&e->ev, CU_EVENT_DEFAULT);
  if (r != CUDA_SUCCESS) {
    delete e;
    CheckDrv(env, r, "cuEventCreate");
  }
  auto ext = Napi::External<Event>::New(env, e, FreeEvent);
  ext.TypeTag(&kEventTag);
  return ext;
}

Napi::Value EventRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Event* e = Unwrap<Event>(info[0], kEventTag, "event", "event");
  CheckDrv(env, s.drv.cuEventRecord(e->ev, s.stream), "cuEventRecord");
  return env.Undefined();
}

// eventElapsed(start, end): milliseconds between two recorded events (waits for end).
Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Event* a = Unwrap<Event>(info[0], kEventTag, "event", "start");
  Event* b = Unwrap<Event>(info[1], kEventTag, "event", "end");
  CheckDrv(env, s.drv.cuEventSynchronize(b->ev), "cuEventSynchronize");
  float ms = 0;
  CheckDrv(env, s.drv.cuEventElapsedTime(&ms, a->ev, b->ev), "cuEventElapsedTime");
  return Napi::Number::New(env, ms);
}

}  // namespace

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("reserve", Napi::Function::New(env, Reserve));
  exports.Set("release", Napi::Function::New(env, Release));
  exports.Set("memInfo", Napi::Function::New(env, MemInfo));
  exports.Set("upload", Napi::Function::New(env, Upload));
  exports.Set("download", Napi::Function::New(env, Download));
  exports.Set("copy", Napi::Function::New(env, CopyDtoD));
  exports.Set("fill", Napi::Function::New(env, Fill));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("eventCreate", Napi::Function::New(env, EventCreate));
  exports.Set("eventRecord", Napi::Function::New(env, EventRecord));
  exports.Set("eventElapsed", Napi::Function::New(env, EventElapsed));
}

}  // namespace bminf::cuda
