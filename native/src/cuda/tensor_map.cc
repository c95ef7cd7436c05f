// TMA tensor maps (cuTensorMapEncodeTiled) for the Hopper GEMM kernel: a 2-D view of bytes inside a
// device Region (rows of rowBytes, strideBytes apart) read in boxes of boxRows x boxBytes with the
// 128-byte swizzle that wgmma's shared-memory descriptors expect. Everything the hardware may touch
// through the map is checked to lie inside the live Region here, and launch() refuses a map whose
// Region was freed since. The box must be the one the kernel expects (its barriers wait for that
// many bytes): @bminf/kernels makes the maps for its own kernels (src/cuda/sm90-gemm.ts), as it sizes
// the spans of every launch.
#include <napi.h>

#include <string>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {
namespace {

void FreeTensorMap(Napi::Env, TensorMap* t) {
  t->keep.Reset();
  delete t;
}

// tensorMap2d(region, byteOffset, rows, rowBytes, strideBytes, boxRows, boxBytes)
Napi::Value TensorMap2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!s.drv.cuTensorMapEncodeTiled) ThrowError(env, "tensorMap2d: this CUDA driver has no cuTensorMapEncodeTiled (CUDA 12 or later).", "BMINF_UNSUPPORTED");
  if (info.Length() < 7) ThrowType(env, "tensorMap2d(region, byteOffset, rows, rowBytes, strideBytes, boxRows, boxBytes): 7 arguments expected.");
  Region* r = Unwrap<Region>(info[0], kRegionTag, "device region", "region");
  if (r->freed) ThrowError(env, "tensorMap2d: the device region was already freed.", "BMINF_DISPOSED");
  const int64_t off = ToIndex(info[1], "byteOffset");
  const int64_t rows = ToInt(info[2], "rows", 1, 1LL << 31);
  const int64_t rowBytes = ToInt(info[3], "rowBytes", 16, 1LL << 31);
  const int64_t stride = ToInt(info[4], "strideBytes", 16, 1LL << 40);
  const int64_t boxRows = ToInt(info[5], "boxRows", 1, 256);
  const int64_t boxBytes = ToInt(info[6], "boxBytes", 16, 128);
  if (off % 16 || stride % 16 || rowBytes % 16 || boxBytes % 16) ThrowRange(env, "tensorMap2d: byteOffset, rowBytes, strideBytes and boxBytes must be multiples of 16.");
  if (stride < rowBytes) ThrowRange(env, "tensorMap2d: strideBytes is less than rowBytes.");
  const uint64_t last = static_cast<uint64_t>(off) + static_cast<uint64_t>(rows - 1) * static_cast<uint64_t>(stride) + static_cast<uint64_t>(rowBytes);
  if (last > r->size) {
    ThrowRange(env, "tensorMap2d: rows " + std::to_string(rows) + " x " + std::to_string(rowBytes) + " bytes (stride " + std::to_string(stride) +
                        ") from byte " + std::to_string(off) + " reach byte " + std::to_string(last) + ", outside the region of " + std::to_string(r->size) + " bytes.");
  }
  auto* t = new TensorMap{};
  t->region = r;
  const unsigned long long dims[2] = {static_cast<unsigned long long>(rowBytes), static_cast<unsigned long long>(rows)};
  const unsigned long long strides[1] = {static_cast<unsigned long long>(stride)};
  const unsigned box[2] = {static_cast<unsigned>(boxBytes), static_cast<unsigned>(boxRows)};
  const unsigned elem[2] = {1, 1};
  CUresult res = s.drv.cuTensorMapEncodeTiled(&t->map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, reinterpret_cast<void*>(r->ptr + off), dims, strides, box, elem,
                                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS) {
    delete t;
    CheckDrv(env, res, "cuTensorMapEncodeTiled");
  }
  t->keep = Napi::Reference<Napi::Value>::New(info[0], 1);
  auto ext = Napi::External<TensorMap>::New(env, t, FreeTensorMap);
  ext.TypeTag(&kTensorMapTag);
  return ext;
}

}  // namespace

void RegisterTensorMaps(Napi::Env env, Napi::Object exports) { exports.Set("tensorMap2d", Napi::Function::New(env, TensorMap2d)); }

}  // namespace bminf::cuda
