// Run-time compilation (NVRTC) of bminf's CUDA C sources, module loading and kernel launches.
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {
namespace {

// compile(source, name, options[]) -> { ok, cubin?: Buffer, ptx?: Buffer, log, error? }.
// With an sm_XY architecture NVRTC emits a CUBIN; with compute_XY (used when this NVRTC is older than
// the device) only PTX, which the driver compiles when the module is loaded.
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!info[0].IsString() || !info[1].IsString() || !info[2].IsArray()) {
    ThrowType(env, "compile(source: string, name: string, options: string[]) was called with other types.");
  }
  std::string src = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  Napi::Array opts = info[2].As<Napi::Array>();
  std::vector<std::string> optStrings;
  for (uint32_t i = 0; i < opts.Length(); i++) {
    Napi::Value v = opts.Get(i);
    if (!v.IsString()) ThrowType(env, "compile: every option must be a string.");
    optStrings.push_back(v.As<Napi::String>());
  }
  std::vector<const char*> optPtrs;
  for (auto& o : optStrings) optPtrs.push_back(o.c_str());

  Nvrtc& n = s.rtc;
  nvrtcProgram prog = nullptr;
  nvrtcResult r = n.nvrtcCreateProgram(&prog, src.c_str(), name.c_str(), 0, nullptr, nullptr);
  if (r != NVRTC_SUCCESS) ThrowError(env, std::string("nvrtcCreateProgram failed: ") + n.nvrtcGetErrorString(r));
  r = n.nvrtcCompileProgram(prog, static_cast<int>(optPtrs.size()), optPtrs.data());
  Napi::Object out = Napi::Object::New(env);
  size_t logSize = 0;
  n.nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize) n.nvrtcGetProgramLog(prog, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  out.Set("log", Napi::String::New(env, log));
  out.Set("ok", Napi::Boolean::New(env, r == NVRTC_SUCCESS));
  if (r != NVRTC_SUCCESS) {
    out.Set("error", Napi::String::New(env, n.nvrtcGetErrorString(r)));
  } else {
    size_t size = 0;
    if (n.nvrtcGetCUBINSize(prog, &size) == NVRTC_SUCCESS && size > 0) {
      auto buf = Napi::Buffer<char>::New(env, size);
      n.nvrtcGetCUBIN(prog, buf.Data());
      out.Set("cubin", buf);
    } else if (n.nvrtcGetPTXSize(prog, &size) == NVRTC_SUCCESS && size > 0) {
      auto buf = Napi::Buffer<char>::New(env, size);
      n.nvrtcGetPTX(prog, buf.Data());
      out.Set("ptx", buf);
    }
  }
  n.nvrtcDestroyProgram(&prog);
  return out;
}

// Modules stay loaded for the life of the process (a handful, a few hundred KiB): kernels taken from
// them may outlive the module's JS handle, and work using them may still be queued.
void FreeModule(Napi::Env, Module* m) { delete m; }

// loadModule(image: Buffer) -> module handle (a CUBIN, or NUL-terminated PTX).
Napi::Value LoadModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!info[0].IsBuffer()) ThrowType(env, "loadModule takes a Buffer holding a CUBIN or PTX image.");
  auto buf = info[0].As<Napi::Buffer<char>>();
  // PTX must end with a NUL; a CUBIN is an ELF file. Copy with a terminator to be safe for both.
  std::vector<char> image(buf.Data(), buf.Data() + buf.Length());
  image.push_back('\0');
  auto* m = new Module{};
  CUresult r = s.drv.cuModuleLoadData(&m->mod, image.data());
  if (r != CUDA_SUCCESS) {
    delete m;
    CheckDrv(env, r, "cuModuleLoadData");
  }
  auto ext = Napi::External<Module>::New(env, m, FreeModule);
  ext.TypeTag(&kModuleTag);
  return ext;
}

Napi::Value GetFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Module* m = Unwrap<Module>(info[0], kModuleTag, "module", "module");
  if (!info[1].IsString()) ThrowType(env, "getFunction: the kernel name must be a string.");
  std::string name = info[1].As<Napi::String>();
  auto* f = new Function{nullptr, name};
  CUresult r = s.drv.cuModuleGetFunction(&f->fn, m->mod, name.c_str());
  if (r != CUDA_SUCCESS) {
    delete f;
    ThrowError(env, "The kernel " + name + " is not in the module: " + DriverError(r));
  }
  auto ext = Napi::External<Function>::New(env, f, [](Napi::Env, Function* p) { delete p; });
  ext.TypeTag(&kFunctionTag);
  return ext;
}

Napi::Value SetMaxDynamicShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Function* f = Unwrap<Function>(info[0], kFunctionTag, "kernel", "kernel");
  int64_t bytes = ToInt(info[1], "bytes", 0, 1 << 20);
  CheckDrv(env, s.drv.cuFuncSetAttribute(f->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)),
           "cuFuncSetAttribute");
  return env.Undefined();
}

// Launches replayed from CUDA graphs (launch's `graph` flag). On the GPU machines' VMs a cuGraphLaunch
// costs the host a fraction of a cuLaunchKernel (2.3 against 6.3 us on the H100 VM, NOTES.md), which
// decides the speed of products that are a few us of GPU work. A launch is keyed by its kernel, grid,
// block, shared memory and the bytes of every parameter (a tensor map's 128 bytes, not its address); on
// a key's second sighting it is captured into a graph, replayed from then on. The same kernel with the
// same parameter bytes, so the same work; the spans were checked on this call as on any other, and a
// tensor map's region is checked live before its bytes are used. Modules are never unloaded, so a
// CUfunction is never reused for another kernel. Keys seen once cost a map entry; at 1024 entries all
// are dropped (a graph still in flight is freed by the driver when done). BMINF_LAUNCH_GRAPHS=0 turns
// it off.
struct LaunchGraph {
  CUgraphExec exec = nullptr;
  bool tried = false;
};
std::unordered_map<std::string, LaunchGraph> g_launchGraphs;

bool LaunchGraphsOn(const State& s) {
  static const bool off = [] {
    const char* v = std::getenv("BMINF_LAUNCH_GRAPHS");
    return v && std::strcmp(v, "0") == 0;
  }();
  return !off && !s.capturing && s.drv.cuStreamBeginCapture && s.drv.cuGraphLaunch;
}

// The graph to replay for this launch (nullptr: launch directly this time).
CUgraphExec LaunchGraphFor(State& s, CUfunction fn, const unsigned* g, const unsigned* b, unsigned shared, const std::string& sig,
                           std::vector<void*>& params) {
  std::string key(reinterpret_cast<const char*>(&fn), sizeof fn);
  key.append(reinterpret_cast<const char*>(g), 3 * sizeof(unsigned));
  key.append(reinterpret_cast<const char*>(b), 3 * sizeof(unsigned));
  key.append(reinterpret_cast<const char*>(&shared), sizeof shared);
  for (size_t i = 0; i < sig.size(); i++) {
    key.append(reinterpret_cast<const char*>(params[i]), sig[i] == 't' ? sizeof(CUtensorMap) : sizeof(uint64_t));
  }
  auto it = g_launchGraphs.find(key);
  if (it == g_launchGraphs.end()) {
    if (g_launchGraphs.size() >= 1024) {
      for (auto& e : g_launchGraphs) if (e.second.exec) s.drv.cuGraphExecDestroy(e.second.exec);
      g_launchGraphs.clear();
    }
    g_launchGraphs.emplace(std::move(key), LaunchGraph{});
    return nullptr;
  }
  LaunchGraph& lg = it->second;
  if (!lg.tried) {
    // A failed capture leaves exec null: the caller launches directly, which reports the launch's error.
    lg.exec = CaptureGraph(s, [&] {
      return s.drv.cuLaunchKernel(fn, g[0], g[1], g[2], b[0], b[1], b[2], shared, s.stream, params.data(), nullptr) == CUDA_SUCCESS;
    });
    lg.tried = true;
  }
  return lg.exec;
}

// "kernel quantize_rows grid 32x1x1 block 256x1x1, pointers 0x7f..., 0x7f...": a launch, for BMINF_SYNC_LAUNCHES's errors.
std::string LaunchText(const std::string& name, const unsigned* g, const unsigned* b, const std::string& sig, const std::vector<void*>& params) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), " grid %ux%ux%u block %ux%ux%u", g[0], g[1], g[2], b[0], b[1], b[2]);
  std::string out = "kernel " + name + buf + ", pointers";
  for (size_t i = 0; i < sig.size(); i++) {
    if (sig[i] != 'p') continue;
    std::snprintf(buf, sizeof(buf), " 0x%llx", static_cast<unsigned long long>(*static_cast<const CUdeviceptr*>(params[i])));
    out += buf;
  }
  return out;
}

// Launch's table form: slots (one per signature letter, as Launch parsed them) packed into one struct.
void LaunchTable(Napi::Env env, State& s, Function* f, const unsigned* g, const unsigned* b, unsigned shared, const std::string& sig,
                 const std::vector<uint64_t>& slots, bool cooperative) {
  std::vector<unsigned char> packed;
  for (size_t i = 0; i < sig.size(); i++) {
    const size_t size = sig[i] == 'p' || sig[i] == 'l' ? 8 : sig[i] == 'i' || sig[i] == 'f' ? 4 : 0;
    if (size == 0) ThrowType(env, "launch " + f->name + ": a table launch takes p, i, l and f arguments only.");
    packed.resize((packed.size() + size - 1) / size * size, 0);  // natural alignment, as the struct lays it out
    const size_t at = packed.size();
    packed.resize(at + size);
    std::memcpy(packed.data() + at, &slots[i], size);  // the slot's low bytes: little-endian, as it was written
  }
  if (packed.size() > 4096) ThrowRange(env, "launch " + f->name + ": a table of " + std::to_string(packed.size()) + " bytes is over the 4 KiB a kernel parameter may take.");
  // The driver copies the kernel's parameter size from here: the fields given, then zeros, never past the buffer.
  packed.resize(4096, 0);
  void* params[1] = {packed.data()};
  if (!cooperative) {
    CheckDrv(env, s.drv.cuLaunchKernel(f->fn, g[0], g[1], g[2], b[0], b[1], b[2], shared, s.stream, params, nullptr), ("cuLaunchKernel(" + f->name + ")").c_str());
  } else {
    if (!s.drv.cuLaunchKernelEx) {
      ThrowError(env, "launch " + f->name + ": a cooperative launch needs cuLaunchKernelEx (a CUDA 12 driver or newer).", "BMINF_UNSUPPORTED");
    }
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    attr.value.cooperative = 1;
    CUlaunchConfig config{g[0], g[1], g[2], b[0], b[1], b[2], shared, s.stream, &attr, 1};
    CheckDrv(env, s.drv.cuLaunchKernelEx(&config, f->fn, params, nullptr), ("cuLaunchKernelEx(" + f->name + ", cooperative)").c_str());
  }
  if (SyncLaunches()) CheckLaunchDone(env, s, f->name + " (table launch)");
}

// launch(kernel, [gx, gy, gz], [bx, by, bz], sharedBytes, signature, args[], graph?): queues a kernel on the
// stream. signature has one letter per kernel parameter: p = a device span (three entries of args:
// region, byteOffset, byteLength; checked against the region), i = int32, l = int64, f = float32,
// t = a tensor map made by tensorMap2d (passed by value; its region must still be live).
// What a kernel touches within its spans is computed from its integer arguments by @bminf/kernels,
// which sizes each span to cover it; this function checks that every span is inside live memory.
// graph (optional, default false): replay the launch from a CUDA graph once it repeats (see above).
// dependent (optional, default false): a programmatic dependent launch (compute capability 9.0+, a CUDA
// 12 driver; elsewhere an ordinary launch): the kernel may start while the one before it in the stream
// finishes, and must itself wait (griddepcontrol.wait, PDL_WAIT in prelude.cuh) before it touches
// memory that kernel writes or reads. Not combined with `graph`.
// table (optional, default 0): 1 or 2: the arguments are packed, in the signature's order with natural
// alignment (p and l 8 bytes, i and f 4; no t), into the kernel's one parameter, a struct of those fields (at
// most 4 KiB): decode_phases. 1: a cooperative launch (every block resident at once, or the launch fails);
// 2: an ordinary one, for a grid the caller sized to what stays resident.
Napi::Value Launch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  Function* f = Unwrap<Function>(info[0], kFunctionTag, "kernel", "kernel");
  if (!info[1].IsArray() || !info[2].IsArray() || !info[4].IsString() || !info[5].IsArray()) {
    ThrowType(env, "launch(kernel, grid[3], block[3], sharedBytes, signature, args[]) was called with other types.");
  }
  Napi::Array grid = info[1].As<Napi::Array>(), block = info[2].As<Napi::Array>();
  if (grid.Length() != 3 || block.Length() != 3) ThrowType(env, "launch: grid and block must have 3 entries.");
  unsigned g[3], b[3];
  for (uint32_t i = 0; i < 3; i++) {
    g[i] = static_cast<unsigned>(ToInt(grid.Get(i), "grid", 1, i == 0 ? 2147483647LL : 65535));
    b[i] = static_cast<unsigned>(ToInt(block.Get(i), "block", 1, 1024));
  }
  if (static_cast<uint64_t>(b[0]) * b[1] * b[2] > 1024) ThrowRange(env, "launch: more than 1024 threads in a block.");
  unsigned shared = static_cast<unsigned>(ToInt(info[3], "sharedBytes", 0, 1 << 20));
  std::string sig = info[4].As<Napi::String>();
  Napi::Array args = info[5].As<Napi::Array>();
  const bool graph = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
  const bool dependent = info.Length() > 7 && info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
  // table: 0 no, 1 packed and cooperative, 2 packed, an ordinary launch (the caller sizes the grid to what stays resident)
  const int table = info.Length() > 8 && info[8].IsNumber() ? static_cast<int>(ToInt(info[8], "table", 0, 2)) : 0;
  std::vector<uint64_t> slots(sig.size());
  std::vector<void*> params(sig.size());
  uint32_t a = 0;
  auto next = [&]() -> Napi::Value {
    if (a >= args.Length()) ThrowType(env, "launch " + f->name + ": fewer arguments than the signature " + sig + " needs.");
    return args.Get(a++);
  };
  for (size_t i = 0; i < sig.size(); i++) {
    void* slot = &slots[i];
    switch (sig[i]) {
      case 'p': {
        Napi::Value rv = next();
        Region* r = Unwrap<Region>(rv, kRegionTag, "device region", "launch span");
        if (r->freed) ThrowError(env, "launch " + f->name + ": a device region was already freed.", "BMINF_DISPOSED");
        int64_t off = ToIndex(next(), "span offset");
        int64_t len = ToIndex(next(), "span length");
        if (static_cast<uint64_t>(off) > r->size || static_cast<uint64_t>(len) > r->size - static_cast<uint64_t>(off)) {
          ThrowRange(env, "launch " + f->name + ": parameter " + std::to_string(i) + " spans bytes " + std::to_string(off) + ".." +
                              std::to_string(off + len) + ", outside its region of " + std::to_string(r->size) + " bytes.");
        }
        *static_cast<CUdeviceptr*>(slot) = r->ptr + static_cast<CUdeviceptr>(off);
        break;
      }
      case 'i':
        *static_cast<int32_t*>(slot) = static_cast<int32_t>(ToInt(next(), "int argument", INT32_MIN, INT32_MAX));
        break;
      case 'l':
        *static_cast<int64_t*>(slot) = ToInt(next(), "int64 argument", -9007199254740991LL, 9007199254740991LL);
        break;
      case 'f': {
        Napi::Value v = next();
        if (!v.IsNumber()) ThrowType(env, "launch " + f->name + ": a float argument is not a number.");
        *static_cast<float*>(slot) = v.As<Napi::Number>().FloatValue();
        break;
      }
      case 't': {
        TensorMap* t = Unwrap<TensorMap>(next(), kTensorMapTag, "tensor map", "launch tensor map");
        if (t->region->freed) ThrowError(env, "launch " + f->name + ": a tensor map's device region was already freed.", "BMINF_DISPOSED");
        params[i] = &t->map;
        continue;
      }
      default:
        ThrowType(env, "launch: unknown signature letter '" + std::string(1, sig[i]) + "' (use p, i, l, f, t).");
    }
    params[i] = slot;
  }
  if (a != args.Length()) ThrowType(env, "launch " + f->name + ": more arguments than the signature " + sig + " takes.");
  if (table) {
    LaunchTable(env, s, f, g, b, shared, sig, slots, table == 1);
    return env.Undefined();
  }
  if (graph && LaunchGraphsOn(s)) {
    if (CUgraphExec e = LaunchGraphFor(s, f->fn, g, b, shared, sig, params)) {
      CheckDrv(env, s.drv.cuGraphLaunch(e, s.stream), ("cuGraphLaunch(" + f->name + ")").c_str());
      if (SyncLaunches()) CheckLaunchDone(env, s, LaunchText(f->name, g, b, sig, params));
      return env.Undefined();
    }
  }
  if (dependent && s.drv.cuLaunchKernelEx && s.ccMajor >= 9) {
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{g[0], g[1], g[2], b[0], b[1], b[2], shared, s.stream, &attr, 1};
    CheckDrv(env, s.drv.cuLaunchKernelEx(&config, f->fn, params.data(), nullptr), ("cuLaunchKernelEx(" + f->name + ")").c_str());
  } else {
    CheckDrv(env, s.drv.cuLaunchKernel(f->fn, g[0], g[1], g[2], b[0], b[1], b[2], shared, s.stream, params.data(), nullptr),
             ("cuLaunchKernel(" + f->name + ")").c_str());
  }
  if (SyncLaunches()) CheckLaunchDone(env, s, LaunchText(f->name, g, b, sig, params));
  return env.Undefined();
}

}  // namespace

void RegisterModules(Napi::Env env, Napi::Object exports) {
  exports.Set("compile", Napi::Function::New(env, Compile));
  exports.Set("loadModule", Napi::Function::New(env, LoadModule));
  exports.Set("getFunction", Napi::Function::New(env, GetFunction));
  exports.Set("setMaxDynamicShared", Napi::Function::New(env, SetMaxDynamicShared));
  exports.Set("launch", Napi::Function::New(env, Launch));
}

}  // namespace bminf::cuda
