// Registers the CPU ops on the addon's `cpu` object (see ops.h for what each takes).
#include <napi.h>

#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/thread_pool.h"

namespace bminf {

void RegisterCpu(Napi::Env env, Napi::Object exports) {
  using namespace cpu;
  auto fn = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name));
  };
  fn("copy", Copy);
  fn("quantizeRows", QuantizeRows);
  fn("dequantize", Dequantize);
  fn("igemm", Igemm);
  fn("gemm", Gemm);
  fn("layerNorm", LayerNorm);
  fn("softmax", Softmax);
  fn("gelu", Gelu);
  fn("binary", Binary);
  fn("embedding", Embedding);
  // {avx2: the CPU has AVX2+FMA+F16C, usingAvx2: the AVX2 kernels are in use, threads}
  fn("info", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("avx2", CpuHasAvx2());
    o.Set("usingAvx2", UseAvx2());
    o.Set("threads", NumThreads());
    return o;
  });
  // setPlainKernels(true) forces the plain C++ kernels (tests compare both paths); false restores the
  // default. Process-wide.
  fn("setPlainKernels", [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (info.Length() != 1 || !info[0].IsBoolean()) {
      throw Napi::TypeError::New(info.Env(), "cpu.setPlainKernels: expected one boolean argument.");
    }
    SetForcePlain(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

}  // namespace bminf
