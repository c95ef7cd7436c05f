#include "cpu/rows.h"

#include <cstring>

#include "cpu/features.h"

namespace bminf {
namespace cpu {

const float* LoadRow(const Array& a, int64_t offset, int64_t n, float* buf) {
  if (a.type == ElemType::kFloat32) return a.as<float>() + offset;
  HalfToFloatN(a.as<uint16_t>() + offset, buf, n);
  return buf;
}

void StoreRow(const Array& a, int64_t offset, const float* v, int64_t n) {
  if (a.type == ElemType::kFloat32) {
    if (a.as<float>() + offset != v) std::memcpy(a.as<float>() + offset, v, n * sizeof(float));
  } else {
    FloatToHalfN(v, a.as<uint16_t>() + offset, n);
  }
}

}  // namespace cpu
}  // namespace bminf
