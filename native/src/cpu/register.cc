// Registers the CPU ops on the addon's `cpu` object (see ops.h for what each takes).
#include <napi.h>

#include <new>
#include <stdexcept>
#include <string>

#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {

namespace {

// Turns C++ exceptions other than Napi's (an op that cannot get memory for its scratch buffers)
// into JS errors: left alone they would pass through N-API's C frames and end the process.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "cpu: out of memory for an op's scratch buffers.");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("cpu: ") + e.what());
  }
}

}  // namespace

void RegisterCpu(Napi::Env env, Napi::Object exports) {
  using namespace cpu;
  auto fn = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name));
  };
  fn("copy", Guarded<Copy>);
  fn("quantizeRows", Guarded<QuantizeRows>);
  fn("dequantize", Guarded<Dequantize>);
  fn("linearInt8", Guarded<LinearInt8>);
  fn("argmax", Guarded<Argmax>);
  fn("argmaxRows", Guarded<ArgmaxRows>);
  fn("sample", Guarded<Sample>);
  fn("sampleRows", Guarded<SampleRows>);
  fn("igemm", Guarded<Igemm>);
  fn("gemm", Guarded<Gemm>);
  fn("layerNorm", Guarded<LayerNorm>);
  fn("softmax", Guarded<Softmax>);
  fn("gelu", Guarded<Gelu>);
  fn("binary", Guarded<Binary>);
  fn("embedding", Guarded<Embedding>);
  fn("zero", Guarded<Zero>);
  fn("scatterRows", Guarded<ScatterRows>);
  fn("attendCache", Guarded<AttendCache>);
  // Recorded steps (tape.h): new Tape(), beginCapture(tape), endCapture(), tape.run() -> Promise.
  exports.Set("Tape", Tape::Define(env));
  fn("beginCapture", Tape::BeginCapture);
  fn("endCapture", Tape::EndCapture);
  // {avx2: the CPU has AVX2+FMA+F16C, usingAvx2: the AVX2 (or a VNNI) path is in use, isa: the path in
  // use, isas: every path this CPU can run, lowest first; threads}
  fn("info", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("avx2", CpuHasAvx2());
    o.Set("usingAvx2", UseAvx2());
    o.Set("isa", IsaName(ActiveIsa()));
    Napi::Array isas = Napi::Array::New(env);
    for (int i = 0; i < kIsaCount; i++) {
      if (CpuSupports(static_cast<Isa>(i))) isas.Set(isas.Length(), IsaName(static_cast<Isa>(i)));
    }
    o.Set("isas", isas);
    o.Set("threads", NumThreads());
    return o;
  });
  // setPlainKernels(true) forces the plain C++ kernels (tests compare the paths); false restores the
  // default. Process-wide.
  fn("setPlainKernels", [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (info.Length() != 1 || !info[0].IsBoolean()) {
      throw Napi::TypeError::New(info.Env(), "cpu.setPlainKernels: expected one boolean argument.");
    }
    if (info[0].As<Napi::Boolean>().Value()) SetIsa(Isa::kPlain);
    else SetIsaDefault();
    return info.Env().Undefined();
  });
  // setThreads(n): the threads ops may use from now on (1..256; 0 restores the default), process-wide.
  fn("setThreads", [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (info.Length() != 1 || !info[0].IsNumber()) {
      throw Napi::TypeError::New(info.Env(), "cpu.setThreads: expected one integer argument.");
    }
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 0 && n <= 256) || n != static_cast<double>(static_cast<int>(n))) {
      throw Napi::RangeError::New(info.Env(), "cpu.setThreads: threads must be an integer from 0 (the default) to 256.");
    }
    SetNumThreads(static_cast<int>(n));
    return info.Env().Undefined();
  });
  // setIsa('plain' | 'avx2' | 'avxvnni' | 'avx512') forces a path (where the CPU lacks it, the highest
  // below it that the CPU has runs); setIsa(null) restores the default. Process-wide.
  fn("setIsa", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Isa isa = Isa::kPlain;
    if (info.Length() == 1 && info[0].IsNull()) {
      SetIsaDefault();
    } else if (info.Length() == 1 && info[0].IsString() && ParseIsa(info[0].As<Napi::String>().Utf8Value().c_str(), &isa)) {
      SetIsa(isa);
    } else {
      throw Napi::TypeError::New(info.Env(), "cpu.setIsa: expected 'plain', 'avx2', 'avxvnni', 'avx512' or null.");
    }
    return info.Env().Undefined();
  });
}

}  // namespace bminf
