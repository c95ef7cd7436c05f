// Argument checking for the CPU ops. Every exported function reads its arguments through Args, which
// throws a JS TypeError or RangeError naming the op and the argument, so that no call from JavaScript
// can make native code touch memory it was not given.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bminf {
namespace cpu {

// The element types the ops take: float16 travels as Uint16Array bits.
enum class ElemType { kInt8, kInt32, kFloat16, kFloat32 };

const char* ElemTypeName(ElemType t);
size_t ElemSize(ElemType t);

// A typed array argument: its data and its length in elements.
struct Array {
  void* data = nullptr;
  int64_t length = 0;
  ElemType type = ElemType::kInt8;
  bool present = false;  // false for an optional argument given as null/undefined

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

// Largest size, offset or stride an op accepts (2^46 elements): far beyond any real tensor, and small
// enough that the extent arithmetic below cannot overflow int64.
constexpr int64_t kMaxIndex = int64_t(1) << 46;

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, size_t count);

  Napi::Env env() const { return info_.Env(); }
  const std::string& op() const { return op_; }
  // The ArrayBuffers under the arrays read so far, gathered only while a tape records (tape.h), which
  // keeps them alive as long as it may replay the op.
  const std::vector<napi_value>& buffers() const { return buffers_; }

  // A typed array whose element type is one of `allowed` (a bit set of 1 << ElemType).
  Array array(size_t i, const char* name, unsigned allowed) const;
  // As array(), but null or undefined give an Array with present = false.
  Array optionalArray(size_t i, const char* name, unsigned allowed) const;
  // An integer in [lo, hi].
  int64_t integer(size_t i, const char* name, int64_t lo = 0, int64_t hi = kMaxIndex) const;
  // A finite number.
  double number(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  // An array of at most maxLength integers in [0, kMaxIndex].
  std::vector<int64_t> integers(size_t i, const char* name, size_t maxLength) const;

  // Throws a RangeError unless elements [offset, offset + extent) lie inside `a`.
  void checkRange(const Array& a, const char* name, int64_t offset, int64_t extent) const;
  // Throws a RangeError unless the strided view (offset, shape, strides) lies inside `a`.
  void checkView(const Array& a, const char* name, int64_t offset, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& strides) const;
  // Throws a TypeError unless a and b have the same element type.
  void checkSameType(const Array& a, const char* an, const Array& b, const char* bn) const;

  [[noreturn]] void rangeError(const std::string& message) const;
  [[noreturn]] void typeError(const std::string& message) const;

 private:
  const Napi::CallbackInfo& info_;
  std::string op_;
  mutable std::vector<napi_value> buffers_;
};

constexpr unsigned Bit(ElemType t) { return 1u << static_cast<unsigned>(t); }
constexpr unsigned kFloatTypes = Bit(ElemType::kFloat16) | Bit(ElemType::kFloat32);
constexpr unsigned kAnyType = Bit(ElemType::kInt8) | Bit(ElemType::kInt32) | kFloatTypes;

}  // namespace cpu
}  // namespace bminf
