// Float rows of either storage type: ops load a row of float16 or float32 elements into float32,
// compute in float32, and round once when they store.
#pragma once
#include <cstdint>

#include "cpu/args.h"

namespace bminf {
namespace cpu {

// A pointer to n float32 values of `a` starting at `offset`: the array itself for float32, else `buf`
// (of at least n floats) filled by conversion.
const float* LoadRow(const Array& a, int64_t offset, int64_t n, float* buf);
// Stores n float32 values into `a` at `offset`, rounding to float16 when `a` holds float16.
void StoreRow(const Array& a, int64_t offset, const float* v, int64_t n);

// A float buffer of at least n elements, the calling thread's own, kept between calls: ops' row and
// chunk buffers, which a std::vector per call would allocate (and zero) every time, dozens of times
// in a decode step. `slot` (0 to kScratchSlots - 1) tells apart the buffers one op uses at once. Its
// contents are whatever the last user left.
constexpr int kScratchSlots = 4;
float* ScratchFloats(int slot, int64_t n);

}  // namespace cpu
}  // namespace bminf
