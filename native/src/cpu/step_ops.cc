// The ops of planned steps (Backend.scatterRows and Backend.attendCache in @bminf/core): they read what
// changes from step to step (cache rows to write, cache lengths) from tensors when they run, never
// from their arguments, so one recorded tape serves every step.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/args.h"
#include "cpu/attend.h"
#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/rows.h"
#include "cpu/tape.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

// scatterRows(src, srcOffset, srcRowStride, n, w, dst, dstOffset, dstRows, index, indexOffset):
// dst[index[i], :] = src[i, :] for src rows of w elements (row i at srcOffset + i · srcRowStride), dst
// packed [dstRows, w] of src's type, index int32 [n]. Indices outside [0, dstRows) are skipped; when
// two are equal the later row wins (threads split the columns, never the rows).
Napi::Value ScatterRows(const Napi::CallbackInfo& info) {
  Args args(info, "scatterRows", 10);
  Array src = args.array(0, "src", kAnyType);
  int64_t so = args.integer(1, "srcOffset");
  int64_t srs = args.integer(2, "srcRowStride");
  int64_t n = args.integer(3, "n", 0, int64_t(1) << 31);
  int64_t w = args.integer(4, "w", 0, int64_t(1) << 31);
  Array dst = args.array(5, "dst", kAnyType);
  int64_t dof = args.integer(6, "dstOffset");
  int64_t rows = args.integer(7, "dstRows", 0, int64_t(1) << 31);
  Array index = args.array(8, "index", Bit(ElemType::kInt32));
  int64_t io = args.integer(9, "indexOffset");
  args.checkSameType(src, "src", dst, "dst");
  if (rows > 0 && w > kMaxIndex / rows) args.rangeError("dstRows * w is too large.");
  args.checkView(src, "src", so, {n, w}, {srs, 1});
  args.checkRange(dst, "dst", dof, rows * w);
  args.checkRange(index, "index", io, n);
  if (n == 0 || w == 0) return info.Env().Undefined();
  return Launch(args, [=] {
    const size_t es = ElemSize(src.type);
    const char* s = static_cast<const char*>(src.data) + so * es;
    char* d = static_cast<char*>(dst.data) + dof * es;
    const int32_t* idx = index.as<int32_t>() + io;
    ParallelFor(w, kGrainElements / n + 1, [&](int64_t c0, int64_t c1) {
      for (int64_t i = 0; i < n; i++) {
        const int64_t r = idx[i];
        if (r < 0 || r >= rows) continue;
        std::memcpy(d + (r * w + c0) * es, s + (i * srs + c0) * es, (c1 - c0) * es);
      }
    });
  });
}

namespace {

// Σ a[i] · b[i] in float32 over 8 independent lanes (vectorised; a single accumulator is a chain of
// dependent adds).
float Dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; u++) lane[u] += a[i + u] * b[i + u];
  float s = 0;
  for (; i < n; i++) s += a[i] * b[i];
  return s + ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void Axpy(float p, const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += p * x[i];
}

struct Attend {
  Array q, keys, values, lengths, bias, out, newK, newV;
  int64_t qo, qrs, ko, vo, lo, bo, oo, nko, nvo, nrs;
  int64_t batch, heads, dim, slotRows;
  float scale;

  // out[b, h·dim …] for one (sequence, head); the buffers are the calling thread's.
  void Task(int64_t b, int64_t h, std::vector<float>& s, std::vector<float>& qb, std::vector<float>& kb,
            std::vector<float>& acc, bool avx2) const {
    const int64_t width = heads * dim;
    const int64_t len = std::min<int64_t>(std::max<int32_t>(lengths.as<int32_t>()[lo + b], 0), slotRows);
    std::fill(acc.begin(), acc.end(), 0.f);
    if (len > 0) {
      const float* qv = LoadRow(q, qo + b * qrs + h * dim, dim, qb.data());
      const float* bv = bias.present ? LoadRow(bias, bo + h * slotRows, slotRows, kb.data() + dim) : nullptr;
      const int64_t base = b * slotRows * width + h * dim;
      const bool half = keys.type == ElemType::kFloat16;
      const size_t es = half ? 2 : 4;
      if (avx2) AttendScoresAvx2(qv, static_cast<const char*>(keys.data) + (ko + base) * es, half, width, len, dim, scale, s.data());
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < len; j++) {
        float v;
        if (avx2) {
          v = s[j];
        } else {
          const float* kr = LoadRow(keys, ko + base + j * width, dim, kb.data());
          v = scale * Dot(qv, kr, dim);
        }
        if (bv) v += bv[len - 1 - j];
        s[j] = v;
        mx = v > mx ? v : mx;
      }
      // All -inf (a bias of -inf everywhere) leaves nothing to attend to: zeros, as softmax gives.
      if (mx != -std::numeric_limits<float>::infinity()) {
        float sum = 0.f;
        if (avx2) {
          sum = ExpShiftSumAvx2(s.data(), len, mx);
        } else {
          for (int64_t j = 0; j < len; j++) sum += (s[j] = std::exp(s[j] - mx));
        }
        const float inv = 1.f / sum;
        if (avx2) {
          for (int64_t j = 0; j < len; j++) s[j] *= inv;
          AttendMixAvx2(s.data(), static_cast<const char*>(values.data) + (vo + base) * es, half, width, len, dim, acc.data());
        } else {
          for (int64_t j = 0; j < len; j++) {
            const float* vr = LoadRow(values, vo + base + j * width, dim, kb.data());
            Axpy(s[j] * inv, vr, acc.data(), dim);
          }
        }
      }
    }
    StoreRow(out, oo + b * width + h * dim, acc.data(), dim);
  }
};

}  // namespace

// attendCache(q, qOffset, qRowStride, batch, heads, headDim, keys, keysOffset, values, valuesOffset,
//             lengths, lengthsOffset, slotRows, scale, bias|null, biasOffset, out, outOffset)
// One query per sequence over its cached keys and values (see Backend.attendCache): q rows of
// heads · headDim at qOffset + b · qRowStride; keys and values packed [batch · slotRows, heads · headDim];
// lengths int32 [batch], clamped to [0, slotRows] when the op runs; bias [heads, slotRows] by distance
// from the query; out packed [batch, heads · headDim]. All float arrays of one type; float32 math.
Napi::Value AttendCache(const Napi::CallbackInfo& info) {
  Args args(info, "attendCache", 23);
  Attend A;
  A.q = args.array(0, "q", kFloatTypes);
  A.qo = args.integer(1, "qOffset");
  A.qrs = args.integer(2, "qRowStride");
  A.batch = args.integer(3, "batch", 0, int64_t(1) << 31);
  A.heads = args.integer(4, "heads", 0, int64_t(1) << 20);
  A.dim = args.integer(5, "headDim", 0, int64_t(1) << 20);
  A.keys = args.array(6, "keys", kFloatTypes);
  A.ko = args.integer(7, "keysOffset");
  A.values = args.array(8, "values", kFloatTypes);
  A.vo = args.integer(9, "valuesOffset");
  A.lengths = args.array(10, "lengths", Bit(ElemType::kInt32));
  A.lo = args.integer(11, "lengthsOffset");
  A.slotRows = args.integer(12, "slotRows", 0, int64_t(1) << 31);
  A.scale = static_cast<float>(args.number(13, "scale"));
  A.bias = args.optionalArray(14, "bias", kFloatTypes);
  A.bo = args.integer(15, "biasOffset");
  A.out = args.array(16, "out", kFloatTypes);
  A.oo = args.integer(17, "outOffset");
  // append: rows newK[b], newV[b] (nrs apart) go to position L_b - 1 of the cache first
  A.newK = args.optionalArray(18, "appendKeys", kFloatTypes);
  A.nko = args.integer(19, "appendKeysOffset");
  A.newV = args.optionalArray(20, "appendValues", kFloatTypes);
  A.nvo = args.integer(21, "appendValuesOffset");
  A.nrs = args.integer(22, "appendRowStride");
  if (A.newK.present != A.newV.present) args.rangeError("appendKeys and appendValues must be given together.");
  args.checkSameType(A.q, "q", A.out, "out");
  args.checkSameType(A.keys, "keys", A.out, "out");
  args.checkSameType(A.values, "values", A.out, "out");
  if (A.bias.present) args.checkSameType(A.bias, "bias", A.out, "out");
  const int64_t width = A.heads * A.dim;  // <= 2^40
  if (A.batch > 0 && width > kMaxIndex / A.batch) args.rangeError("batch * heads * headDim is too large.");
  if (A.batch * A.slotRows > 0 && width > kMaxIndex / (A.batch * A.slotRows)) {
    args.rangeError("batch * slotRows * heads * headDim is too large.");
  }
  if (A.heads > 0 && A.slotRows > kMaxIndex / A.heads) args.rangeError("heads * slotRows is too large.");
  args.checkView(A.q, "q", A.qo, {A.batch, width}, {A.qrs, 1});
  args.checkRange(A.keys, "keys", A.ko, A.batch * A.slotRows * width);
  args.checkRange(A.values, "values", A.vo, A.batch * A.slotRows * width);
  args.checkRange(A.lengths, "lengths", A.lo, A.batch);
  if (A.bias.present) args.checkRange(A.bias, "bias", A.bo, A.heads * A.slotRows);
  args.checkRange(A.out, "out", A.oo, A.batch * width);
  if (A.newK.present) {
    args.checkSameType(A.newK, "appendKeys", A.out, "out");
    args.checkSameType(A.newV, "appendValues", A.out, "out");
    args.checkView(A.newK, "appendKeys", A.nko, {A.batch, width}, {A.nrs, 1});
    args.checkView(A.newV, "appendValues", A.nvo, {A.batch, width}, {A.nrs, 1});
  }
  if (A.batch == 0 || width == 0) return info.Env().Undefined();
  return Launch(args, [A] {
    if (A.newK.present) {
      // The cache write before the attention that reads it (lengths are read now, at run time).
      const size_t es = A.keys.type == ElemType::kFloat16 ? 2 : 4;
      const int64_t width = A.heads * A.dim;
      for (int64_t b = 0; b < A.batch; b++) {
        const int64_t len = std::min<int64_t>(std::max<int32_t>(A.lengths.as<int32_t>()[A.lo + b], 0), A.slotRows);
        if (len < 1) continue;
        const int64_t row = b * A.slotRows + len - 1;
        std::memcpy(static_cast<char*>(A.keys.data) + (A.ko + row * width) * es, static_cast<const char*>(A.newK.data) + (A.nko + b * A.nrs) * es, width * es);
        std::memcpy(static_cast<char*>(A.values.data) + (A.vo + row * width) * es, static_cast<const char*>(A.newV.data) + (A.nvo + b * A.nrs) * es, width * es);
      }
    }
    // The work depends on the lengths, read now: threads only where it pays.
    double macs = 0;
    for (int64_t b = 0; b < A.batch; b++) {
      macs += double(std::min<int64_t>(std::max<int32_t>(A.lengths.as<int32_t>()[A.lo + b], 0), A.slotRows)) + 1;
    }
    macs *= 2.0 * double(A.heads) * double(A.dim);
    const int64_t tasks = A.batch * A.heads;
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(double(kGrainMacs) * tasks / (macs + 1)));
    const bool avx2 = UseAvx2();
    ParallelFor(tasks, grain, [&](int64_t t0, int64_t t1) {
      // Each thread's buffers, kept between calls (a decode step calls this once per layer); kb holds
      // a key or value row and, after it, the head's bias row.
      thread_local std::vector<float> s, qb, kb, acc;
      s.resize(A.slotRows);
      qb.resize(A.dim);
      kb.resize(A.dim + (A.bias.present ? A.slotRows : 0));
      acc.resize(A.dim);
      for (int64_t t = t0; t < t1; t++) A.Task(t / A.heads, t % A.heads, s, qb, kb, acc, avx2);
    });
  });
}

}  // namespace cpu
}  // namespace bminf
