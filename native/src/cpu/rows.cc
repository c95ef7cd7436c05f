#include "cpu/rows.h"

#include <cstring>
#include <vector>

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

float* ScratchFloats(int slot, int64_t n) {
  thread_local std::vector<float> buffers[kScratchSlots];
  std::vector<float>& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n) b.resize(n);
  return b.data();
}

}  // namespace cpu
}  // namespace bminf
