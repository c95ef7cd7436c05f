#pragma once
#include <napi.h>

namespace bminf::cuda {
void RegisterMemory(Napi::Env env, Napi::Object exports);   // memory.cc
void RegisterModules(Napi::Env env, Napi::Object exports);  // module.cc
void RegisterBlasLt(Napi::Env env, Napi::Object exports);   // blaslt.cc
void RegisterBlasLtBench(Napi::Env env, Napi::Object bench);  // blaslt.cc: switches for benchmarks only
void RegisterTensorMaps(Napi::Env env, Napi::Object exports);  // tensor_map.cc
void RegisterStepGraphs(Napi::Env env, Napi::Object exports);  // step_graph.cc
void RegisterStreaming(Napi::Env env, Napi::Object exports);   // streaming.cc
}  // namespace bminf::cuda
