// The CPU ops exported to JavaScript (registered in register.cc). Each validates its arguments with
// Args before touching any memory, then runs its work through Launch() (tape.h): at once, or recorded
// on a tape. Offsets, strides and sizes are in elements.
#pragma once
#include <napi.h>

namespace bminf {
namespace cpu {

Napi::Value Copy(const Napi::CallbackInfo& info);         // copy.cc
Napi::Value QuantizeRows(const Napi::CallbackInfo& info); // quantize.cc
Napi::Value Dequantize(const Napi::CallbackInfo& info);   // quantize.cc
Napi::Value Igemm(const Napi::CallbackInfo& info);        // igemm.cc
Napi::Value LinearInt8(const Napi::CallbackInfo& info);   // linear_int8.cc
Napi::Value Gemm(const Napi::CallbackInfo& info);         // gemm.cc
Napi::Value LayerNorm(const Napi::CallbackInfo& info);    // norm.cc
Napi::Value Softmax(const Napi::CallbackInfo& info);      // softmax.cc
Napi::Value Gelu(const Napi::CallbackInfo& info);         // elementwise.cc
Napi::Value Binary(const Napi::CallbackInfo& info);       // elementwise.cc
Napi::Value Embedding(const Napi::CallbackInfo& info);    // elementwise.cc
Napi::Value Zero(const Napi::CallbackInfo& info);         // copy.cc
Napi::Value ScatterRows(const Napi::CallbackInfo& info);  // step_ops.cc
Napi::Value AttendCache(const Napi::CallbackInfo& info);  // step_ops.cc
Napi::Value Argmax(const Napi::CallbackInfo& info);       // argmax.cc
Napi::Value ArgmaxRows(const Napi::CallbackInfo& info);   // argmax.cc
Napi::Value Sample(const Napi::CallbackInfo& info);       // sample.cc
Napi::Value SampleRows(const Napi::CallbackInfo& info);   // sample.cc

}  // namespace cpu
}  // namespace bminf
