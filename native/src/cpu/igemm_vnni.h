// What the two VNNI int8 GEMMs (igemm_avxvnni.cc, igemm_avx512.cc) share: packing in groups of 4
// k (vpdpbusd's unit) and the row sums of A that undo the +128 offset of B. Plain C++, compiled into
// each of those files with its own flags, so kept out of the shared inline ones: in an unnamed
// namespace, each file gets its own copy (otherwise the linker could keep the AVX-512 one for both).
#pragma once
#include <cstdint>
#include <cstring>

namespace bminf {
namespace cpu {
namespace vnni {
namespace {

// sum_k a[k] over k bytes.
int32_t RowSum(const int8_t* a, int64_t k) {
  int32_t s = 0;
  for (int64_t p = 0; p < k; p++) s += a[p];
  return s;
}

// Packs `rows` rows of x (row stride ld, kc bytes each) into slivers of R rows, out[group][r] = the
// 4 bytes x[r][4g .. 4g+3] (zero past kc and past `rows`), each XORed with `flip`.
template <int R>
void PackGroups(const int8_t* x, int64_t ld, int64_t rows, int64_t kc, uint32_t flip, int32_t* out) {
  const int64_t groups = (kc + 3) / 4;
  const int64_t whole = kc / 4;
  for (int64_t s = 0; s < rows; s += R) {
    for (int r = 0; r < R; r++) {
      int32_t* o = out + r;
      if (s + r >= rows) {
        for (int64_t g = 0; g < groups; g++) o[g * R] = static_cast<int32_t>(flip);
        continue;
      }
      const int8_t* xr = x + (s + r) * ld;
      for (int64_t g = 0; g < whole; g++) {
        uint32_t v;
        std::memcpy(&v, xr + 4 * g, 4);
        o[g * R] = static_cast<int32_t>(v ^ flip);
      }
      if (whole < groups) {
        uint8_t t[4] = {0, 0, 0, 0};
        std::memcpy(t, xr + 4 * whole, static_cast<size_t>(kc - 4 * whole));
        uint32_t v;
        std::memcpy(&v, t, 4);
        o[whole * R] = static_cast<int32_t>(v ^ flip);
      }
    }
    out += groups * R;
  }
}

// The packers of IgemmPackedKernels for slivers of MR rows of A and NR rows of B: A as it is, with
// row_sums[i] = 128 · sum_k a[i, k]; B offset by 128, its padding becoming 0x80 bytes (b = 0), which
// meet a = 0 in A's padding anyway.
template <int MR>
void PackA(const int8_t* a, int64_t lda, int64_t mc, int64_t kc, void* out, int32_t* row_sums) {
  PackGroups<MR>(a, lda, mc, kc, 0, static_cast<int32_t*>(out));
  for (int64_t i = 0; i < mc; i++) row_sums[i] = 128 * RowSum(a + i * lda, kc);
}

template <int NR>
void PackB(const int8_t* b, int64_t ldb, int64_t nc, int64_t kc, void* out) {
  PackGroups<NR>(b, ldb, nc, kc, 0x80808080u, static_cast<int32_t*>(out));
}

}  // namespace
}  // namespace vnni
}  // namespace cpu
}  // namespace bminf
