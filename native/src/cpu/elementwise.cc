// Elementwise ops (GELU, add, mul with suffix broadcasting) and the embedding lookup.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/linear_parts.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {
constexpr int64_t kChunk = 4096;  // elements converted and processed at a time (float16 needs buffers)
}

// gelu(x, xOffset, out, outOffset, n): 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))), float32 math.
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  Args args(info, "gelu", 5);
  Array x = args.array(0, "x", kFloatTypes);
  int64_t xo = args.integer(1, "xOffset");
  Array out = args.array(2, "out", kFloatTypes);
  int64_t oo = args.integer(3, "outOffset");
  int64_t n = args.integer(4, "n");
  args.checkSameType(x, "x", out, "out");
  args.checkRange(x, "x", xo, n);
  args.checkRange(out, "out", oo, n);
  return Launch(args, [=] {
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    const bool avx2 = UseAvx2();
    ParallelFor(chunks, kGrainElements / kChunk, [&](int64_t c0, int64_t c1) {
      const int64_t size = std::min(kChunk, n);  // small ops (a decode step) need small buffers
      float* in = ScratchFloats(0, size);
      float* y = ScratchFloats(1, size);
      for (int64_t c = c0; c < c1; c++) {
        const int64_t start = c * kChunk, len = std::min(kChunk, n - start);
        const float* v = LoadRow(x, xo + start, len, in);
        if (avx2) {
          GeluAvx2(v, y, len);
        } else {
          for (int64_t i = 0; i < len; i++) {
            const float t = v[i];
            y[i] = 0.5f * t * (1.0f + std::tanh(0.7978845608028654f * (t + 0.044715f * t * t * t)));
          }
        }
        StoreRow(out, oo + start, y, len);
      }
    });
  });
}

namespace {
// y = a + b or a * b over n elements, in loops the compiler vectorises.
void AddRow(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
void MulRow(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}
}  // namespace

void BinaryRun(bool add, const Array& a, int64_t ao, int64_t n, const Array& b, int64_t bo, int64_t bn, const Array& out, int64_t oo) {
  // Same shapes (a residual add): b is read chunk by chunk, as a is. A shorter b (a bias, repeated)
  // is widened once. (Widening a whole same-shaped b first cost a buffer the size of the tensor, a
  // fresh allocation, so page faults, on every call.)
  const bool whole = bn == n;
  std::vector<float> bAll(whole ? 0 : bn);
  if (!whole) {
    const float* bf = LoadRow(b, bo, bn, bAll.data());
    if (bf != bAll.data()) bAll.assign(bf, bf + bn);
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const bool direct = out.type == ElemType::kFloat32;  // float32 results are written in place
  ParallelFor(chunks, kGrainElements / kChunk, [&](int64_t c0, int64_t c1) {
    const int64_t size = std::min(kChunk, n);
    float* in = ScratchFloats(0, size);
    float* inB = ScratchFloats(1, size);
    float* buf = ScratchFloats(2, size);
    for (int64_t c = c0; c < c1; c++) {
      const int64_t start = c * kChunk, len = std::min(kChunk, n - start);
      const float* v = LoadRow(a, ao + start, len, in);
      float* y = direct ? out.as<float>() + oo + start : buf;
      if (whole) {
        (add ? AddRow : MulRow)(v, LoadRow(b, bo + start, len, inB), y, len);
      } else {
        // Runs over which b is contiguous: from b[start % bn] to its end, then from b[0] again.
        for (int64_t i = 0, j = start % bn; i < len; j = 0) {
          const int64_t run = std::min(len - i, bn - j);
          (add ? AddRow : MulRow)(v + i, bAll.data() + j, y + i, run);
          i += run;
        }
      }
      if (!direct) StoreRow(out, oo + start, y, len);
    }
  });
}

// binary(op, a, aOffset, n, b, bOffset, bn, out, outOffset): out[i] = a[i] op b[i % bn], op "add" or
// "mul"; n must be a multiple of bn (b is a suffix shape of a's, repeated).
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Args args(info, "binary", 9);
  if (!info[0].IsString()) args.typeError("op must be \"add\" or \"mul\".");
  std::string op = info[0].As<Napi::String>().Utf8Value();
  if (op != "add" && op != "mul") args.rangeError("op must be \"add\" or \"mul\" but is \"" + op + "\".");
  const bool add = op == "add";
  Array a = args.array(1, "a", kFloatTypes);
  int64_t ao = args.integer(2, "aOffset");
  int64_t n = args.integer(3, "n");
  Array b = args.array(4, "b", kFloatTypes);
  int64_t bo = args.integer(5, "bOffset");
  int64_t bn = args.integer(6, "bn");
  Array out = args.array(7, "out", kFloatTypes);
  int64_t oo = args.integer(8, "outOffset");
  args.checkSameType(a, "a", out, "out");
  args.checkSameType(b, "b", out, "out");
  if (n > 0 && (bn == 0 || n % bn != 0)) {
    args.rangeError("n (" + std::to_string(n) + ") must be a multiple of bn (" + std::to_string(bn) + ").");
  }
  args.checkRange(a, "a", ao, n);
  args.checkRange(b, "b", bo, bn);
  args.checkRange(out, "out", oo, n);
  if (n == 0) return info.Env().Undefined();
  return Launch(args, [=] { BinaryRun(add, a, ao, n, b, bo, bn, out, oo); });
}

// embedding(ids, idsOffset, n, table, tableOffset, vocab, dim, out, outOffset): out[i] =
// table[ids[i]] for a packed table [vocab, dim] of any element type. Every id is checked before
// anything is copied (except in a recorded op: see below).
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  Args args(info, "embedding", 9);
  Array ids = args.array(0, "ids", Bit(ElemType::kInt32));
  int64_t io = args.integer(1, "idsOffset");
  int64_t n = args.integer(2, "n");
  Array table = args.array(3, "table", kAnyType);
  int64_t to = args.integer(4, "tableOffset");
  int64_t vocab = args.integer(5, "vocab", 0, int64_t(1) << 31);
  int64_t dim = args.integer(6, "dim", 0, int64_t(1) << 31);
  Array out = args.array(7, "out", kAnyType);
  int64_t oo = args.integer(8, "outOffset");
  args.checkSameType(table, "table", out, "out");
  if (n > 0 && dim > kMaxIndex / n) args.rangeError("n * dim is too large.");
  args.checkRange(ids, "ids", io, n);
  args.checkRange(table, "table", to, vocab * dim);
  args.checkRange(out, "out", oo, n * dim);
  const int32_t* id = ids.as<int32_t>() + io;
  // An eager call checks the ids now. A recorded one cannot (they are written between runs, after the
  // host checked them): it gives a row of zeros for an id out of range, as the CUDA kernel does.
  for (int64_t i = 0; i < n && !CapturingTape(); i++) {
    if (id[i] < 0 || id[i] >= vocab) {
      args.rangeError("ids[" + std::to_string(i) + "] = " + std::to_string(id[i]) + " is out of range for a table of " +
                      std::to_string(vocab) + " rows.");
    }
  }
  const size_t es = ElemSize(table.type);
  const char* src = static_cast<const char*>(table.data) + to * es;
  char* dst = static_cast<char*>(out.data) + oo * es;
  return Launch(args, [=] {
    for (int64_t i = 0; i < n; i++) {
      if (id[i] < 0 || id[i] >= vocab) std::memset(dst + i * dim * es, 0, dim * es);
      else std::memcpy(dst + i * dim * es, src + int64_t(id[i]) * dim * es, dim * es);
    }
  });
}

}  // namespace cpu
}  // namespace bminf
