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

}  // namespace cpu
}  // namespace bminf
