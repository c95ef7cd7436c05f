// Strided copy of rank <= 4 views, converting float16 <-> float32 when the element types differ
// (that is how cast works on views).
#include <array>
#include <cstring>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/half.h"
#include "cpu/ops.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

// Shapes and strides padded to rank 4, held by value (the work closure copies them without allocating).
using Dims = std::array<int64_t, 4>;

Dims ToDims(const std::vector<int64_t>& v) { return {v[0], v[1], v[2], v[3]}; }

// Pads both views to rank 4 (leading dims of size 1).
void PadTo4(std::vector<int64_t>& shape, std::vector<int64_t>& ss, std::vector<int64_t>& ds) {
  while (shape.size() < 4) {
    shape.insert(shape.begin(), 1);
    ss.insert(ss.begin(), 0);
    ds.insert(ds.begin(), 0);
  }
}

template <typename S, typename D, typename F>
void CopyRows(const S* src, const Dims& ss, D* dst, const Dims& ds, const Dims& shape, F convert) {
  const int64_t d0 = shape[0], d1 = shape[1], d2 = shape[2], d3 = shape[3];
  ParallelFor(d0 * d1 * d2, kGrainElements / (d3 + 1) + 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t i2 = r % d2, i1 = (r / d2) % d1, i0 = r / (d1 * d2);
      const S* s = src + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
      D* d = dst + i0 * ds[0] + i1 * ds[1] + i2 * ds[2];
      convert(s, ss[3], d, ds[3], d3);
    }
  });
}

template <typename T>
void SameType(const T* s, int64_t ss, T* d, int64_t ds, int64_t n) {
  if (ss == 1 && ds == 1) {
    std::memcpy(d, s, n * sizeof(T));
  } else {
    for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
  }
}

}  // namespace

// copy(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape)
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args args(info, "copy", 7);
  Array src = args.array(0, "src", kAnyType);
  int64_t so = args.integer(1, "srcOffset");
  std::vector<int64_t> ss = args.integers(2, "srcStrides", 4);
  Array dst = args.array(3, "dst", kAnyType);
  int64_t dof = args.integer(4, "dstOffset");
  std::vector<int64_t> ds = args.integers(5, "dstStrides", 4);
  std::vector<int64_t> shape = args.integers(6, "shape", 4);
  if (ss.size() != shape.size() || ds.size() != shape.size()) {
    args.rangeError("srcStrides, dstStrides and shape must have the same length (the rank).");
  }
  bool convert = src.type != dst.type;
  if (convert && !((src.type == ElemType::kFloat16 && dst.type == ElemType::kFloat32) ||
                   (src.type == ElemType::kFloat32 && dst.type == ElemType::kFloat16))) {
    args.typeError(std::string("can only convert between float16 and float32, not from a ") + ElemTypeName(src.type) +
                   " to a " + ElemTypeName(dst.type) + ".");
  }
  // Stride-0 views pass the range checks at any size, so bound the element count too (a zero
  // dimension anywhere makes it 0). Each factor is <= 2^46 and the product is checked after each
  // step, so 128 bits cannot overflow.
  __int128 numel = 1;
  bool empty = false;
  for (int64_t d : shape) empty = empty || d == 0;
  for (int64_t d : shape) {
    numel *= d;
    if (!empty && numel > kMaxIndex) args.rangeError("the shape has too many elements.");
  }
  args.checkView(src, "src", so, shape, ss);
  args.checkView(dst, "dst", dof, shape, ds);
  PadTo4(shape, ss, ds);
  for (int64_t d : shape) if (d == 0) return info.Env().Undefined();
  return Launch(args, [=, sh = ToDims(shape), s4 = ToDims(ss), d4 = ToDims(ds)] {
    if (!convert) {
      switch (ElemSize(src.type)) {
        case 1: CopyRows(src.as<int8_t>() + so, s4, dst.as<int8_t>() + dof, d4, sh, SameType<int8_t>); break;
        case 2: CopyRows(src.as<uint16_t>() + so, s4, dst.as<uint16_t>() + dof, d4, sh, SameType<uint16_t>); break;
        default: CopyRows(src.as<int32_t>() + so, s4, dst.as<int32_t>() + dof, d4, sh, SameType<int32_t>); break;
      }
    } else if (src.type == ElemType::kFloat16) {
      CopyRows(src.as<uint16_t>() + so, s4, dst.as<float>() + dof, d4, sh,
               [](const uint16_t* s, int64_t sst, float* d, int64_t dst_, int64_t n) {
                 if (sst == 1 && dst_ == 1) return HalfToFloatN(s, d, n);
                 for (int64_t i = 0; i < n; i++) d[i * dst_] = HalfToFloat(s[i * sst]);
               });
    } else {
      CopyRows(src.as<float>() + so, s4, dst.as<uint16_t>() + dof, d4, sh,
               [](const float* s, int64_t sst, uint16_t* d, int64_t dst_, int64_t n) {
                 if (sst == 1 && dst_ == 1) return FloatToHalfN(s, d, n);
                 for (int64_t i = 0; i < n; i++) d[i * dst_] = FloatToHalf(s[i * sst]);
               });
    }
  });
}

// zero(dst, dstOffset, n): n elements of dst from dstOffset set to 0 (zeros(), recorded like any op).
Napi::Value Zero(const Napi::CallbackInfo& info) {
  Args args(info, "zero", 3);
  Array dst = args.array(0, "dst", kAnyType);
  int64_t dof = args.integer(1, "dstOffset");
  int64_t n = args.integer(2, "n");
  args.checkRange(dst, "dst", dof, n);
  if (n == 0) return info.Env().Undefined();
  return Launch(args, [=] {
    char* d = static_cast<char*>(dst.data) + dof * ElemSize(dst.type);
    const int64_t bytes = n * static_cast<int64_t>(ElemSize(dst.type));
    ParallelFor(bytes, kGrainElements * 4, [&](int64_t b0, int64_t b1) { std::memset(d + b0, 0, b1 - b0); });
  });
}

}  // namespace cpu
}  // namespace bminf
