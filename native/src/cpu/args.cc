#include "cpu/args.h"

#include "cpu/tape.h"

namespace bminf {
namespace cpu {

const char* ElemTypeName(ElemType t) {
  switch (t) {
    case ElemType::kInt8: return "Int8Array (int8)";
    case ElemType::kInt32: return "Int32Array (int32)";
    case ElemType::kFloat16: return "Uint16Array (float16 bits)";
    case ElemType::kFloat32: return "Float32Array (float32)";
  }
  return "?";
}

size_t ElemSize(ElemType t) {
  switch (t) {
    case ElemType::kInt8: return 1;
    case ElemType::kFloat16: return 2;
    default: return 4;
  }
}

static std::string AllowedNames(unsigned allowed) {
  std::string s;
  for (unsigned t = 0; t < 4; t++) {
    if (!(allowed & (1u << t))) continue;
    if (!s.empty()) s += " or ";
    s += ElemTypeName(static_cast<ElemType>(t));
  }
  return s;
}

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t count) : info_(info), op_(op) {
  if (info.Length() != count) {
    typeError("expected " + std::to_string(count) + " arguments but received " + std::to_string(info.Length()) + ".");
  }
}

void Args::rangeError(const std::string& message) const {
  throw Napi::RangeError::New(info_.Env(), "cpu." + op_ + ": " + message);
}

void Args::typeError(const std::string& message) const {
  throw Napi::TypeError::New(info_.Env(), "cpu." + op_ + ": " + message);
}

Array Args::array(size_t i, const char* name, unsigned allowed) const {
  Napi::Value v = info_[i];
  if (!v.IsTypedArray()) typeError(std::string(name) + " must be a " + AllowedNames(allowed) + ".");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t byteOffset;
  napi_status st = napi_get_typedarray_info(info_.Env(), v, &type, &length, &data, &buffer, &byteOffset);
  if (st != napi_ok) typeError(std::string("cannot read the typed array ") + name + ".");
  Array a;
  switch (type) {
    case napi_int8_array: a.type = ElemType::kInt8; break;
    case napi_int32_array: a.type = ElemType::kInt32; break;
    case napi_uint16_array: a.type = ElemType::kFloat16; break;
    case napi_float32_array: a.type = ElemType::kFloat32; break;
    default: typeError(std::string(name) + " must be a " + AllowedNames(allowed) + ".");
  }
  if (!(allowed & Bit(a.type))) {
    typeError(std::string(name) + " must be a " + AllowedNames(allowed) + " but is a " + ElemTypeName(a.type) + ".");
  }
  // napi gives the data pointer already advanced by the view's byteOffset.
  a.data = data;
  a.length = static_cast<int64_t>(length);
  a.present = true;
  if (CapturingTape()) buffers_.push_back(buffer);
  return a;
}

Array Args::optionalArray(size_t i, const char* name, unsigned allowed) const {
  Napi::Value v = info_[i];
  if (v.IsNull() || v.IsUndefined()) return Array{};
  return array(i, name, allowed);
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) typeError(std::string(name) + " must be a number.");
  double d = v.As<Napi::Number>().DoubleValue();
  // The range test comes first (it also rejects NaN), so the cast below is always defined.
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != static_cast<double>(static_cast<int64_t>(d))) {
    rangeError(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
               "] but is " + Napi::Value(v).ToString().Utf8Value() + ".");
  }
  return static_cast<int64_t>(d);
}

double Args::number(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) typeError(std::string(name) + " must be a number.");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d - d == 0)) rangeError(std::string(name) + " must be finite but is " + v.ToString().Utf8Value() + ".");
  return d;
}

bool Args::boolean(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) typeError(std::string(name) + " must be a boolean.");
  return v.As<Napi::Boolean>().Value();
}

std::vector<int64_t> Args::integers(size_t i, const char* name, size_t maxLength) const {
  Napi::Value v = info_[i];
  if (!v.IsArray()) typeError(std::string(name) + " must be an array of integers.");
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() > maxLength) {
    rangeError(std::string(name) + " may have at most " + std::to_string(maxLength) + " entries but has " +
               std::to_string(arr.Length()) + ".");
  }
  std::vector<int64_t> out(arr.Length());
  for (uint32_t j = 0; j < arr.Length(); j++) {
    Napi::Value e = arr.Get(j);
    if (!e.IsNumber()) typeError(std::string(name) + "[" + std::to_string(j) + "] must be a number.");
    double d = e.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= static_cast<double>(kMaxIndex)) || d != static_cast<double>(static_cast<int64_t>(d))) {
      rangeError(std::string(name) + "[" + std::to_string(j) + "] must be a non-negative integer but is " +
                 e.ToString().Utf8Value() + ".");
    }
    out[j] = static_cast<int64_t>(d);
  }
  return out;
}

void Args::checkRange(const Array& a, const char* name, int64_t offset, int64_t extent) const {
  if (extent == 0) return;
  // offset, extent <= 2^46 each (callers pass checked values or products of checked values bounded
  // below), so the sum cannot overflow.
  if (offset < 0 || extent < 0 || offset > a.length || extent > a.length - offset) {
    rangeError(std::string(name) + " is too short: elements [" + std::to_string(offset) + ", " +
               std::to_string(offset + extent) + ") are needed but it has " + std::to_string(a.length) + ".");
  }
}

void Args::checkView(const Array& a, const char* name, int64_t offset, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& strides) const {
  __int128 first = offset, last = offset;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 0) return;  // an empty view touches nothing
    const __int128 step = static_cast<__int128>(shape[d] - 1) * strides[d];
    (step < 0 ? first : last) += step;  // a negative stride (a bias by distance) reaches below the offset
  }
  if (first < 0) {
    rangeError(std::string(name) + ": the view reaches element " + std::to_string(static_cast<int64_t>(first < -kMaxIndex ? -kMaxIndex : first)) +
               ", before the array's start.");
  }
  if (last >= a.length) {
    rangeError(std::string(name) + " is too short: the view reaches element " +
               std::to_string(static_cast<int64_t>(last > kMaxIndex * 4 ? kMaxIndex * 4 : last)) + " but it has " +
               std::to_string(a.length) + ".");
  }
}

void Args::checkSameType(const Array& a, const char* an, const Array& b, const char* bn) const {
  if (a.type != b.type) {
    typeError(std::string(an) + " and " + bn + " must have the same element type but are a " + ElemTypeName(a.type) +
              " and a " + ElemTypeName(b.type) + ".");
  }
}

}  // namespace cpu
}  // namespace bminf
