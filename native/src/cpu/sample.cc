// A token drawn from float32 logits after BMInf's penalties, temperature, top-k and top-p, natively:
// the steps of samplingDistribution and the sampler's inverse-CDF draw (packages/models/src/generation/
// sampling-distribution.ts and sampling.ts, the reference), in the same order and in float64. In
// JavaScript one draw over CPM-2's 26 240 logits took 0.45 ms (0.95 ms with top-p), paid for every
// sequence of every step on a server's one JS thread. Only e^x is computed otherwise (ExpNonPositive,
// within an ulp or two of V8's Math.exp), so a probability can differ in its last bits: the same
// distribution, and the same token for the same uniform draw unless the draw falls within ~1e-15 of a
// boundary between two tokens.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/args.h"
#include "cpu/features.h"
#include "cpu/ops.h"
#include "cpu/sample_exp.h"
#include "cpu/thread_pool.h"

namespace bminf {
namespace cpu {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kBuckets = 1024;

struct Options {
  double frequency, presence, temperature, topP;
  int64_t topK;
};

// The candidates and their weights. Scratch kept per thread: a vocabulary's worth of doubles is
// allocated once, not per token.
struct Distribution {
  std::vector<int32_t> ids;   // the candidates, ascending
  std::vector<double> w;      // their weights
  double sum = 0;             // of the weights: the probabilities are w / sum
  std::vector<double> x;      // the logits in float64, penalised
  std::vector<double> sorted; // top-k's and top-p's partial orders
  std::vector<uint16_t> bucket;
};

// 1023 − the binary exponent of a weight in [0, 1], read from its bits (exact, monotonic): 1 → 0,
// [0.5, 1) → 1, …, subnormals and 0 → 1023. As exponentBuckets() in the reference.
inline uint16_t BucketOf(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return static_cast<uint16_t>(1023 - ((bits >> 52) & 0x7ff));
}

// Top-p over d.w (total: their sum): which candidates stay, as nucleus() in the reference keeps them
// (by weight, then id; the first always; only the exponent bucket where the mass reaches p is sorted).
// Compacts d.ids and d.w to the kept ones, in order.
void Nucleus(Distribution& d, double total, double topP) {
  const size_t n = d.w.size();
  const double target = topP * total;
  d.bucket.resize(n);
  double mass[kBuckets] = {0};
  for (size_t j = 0; j < n; j++) mass[d.bucket[j] = BucketOf(d.w[j])] += d.w[j];
  int last = kBuckets - 1;
  double before = 0;
  for (int b = 0; b < kBuckets; b++) {
    if (before + mass[b] >= target) {
      last = b;
      break;
    }
    before += mass[b];
  }
  d.sorted.clear();
  for (size_t j = 0; j < n; j++)
    if (d.bucket[j] == last) d.sorted.push_back(d.w[j]);
  std::sort(d.sorted.begin(), d.sorted.end());
  // The cut: the smallest kept weight, and how many tokens of exactly that weight are kept.
  const int64_t m = static_cast<int64_t>(d.sorted.size());
  double above = before, cut = m > 0 ? d.sorted[m - 1] : kInf;
  int64_t tiesKept = 0;
  for (int64_t r = m - 1; r >= 0; r--) {
    if (r < m - 1 && above >= target) break;
    if (d.sorted[r] == cut) {
      tiesKept++;
    } else {
      cut = d.sorted[r];
      tiesKept = 1;
    }
    above += d.sorted[r];
  }
  size_t count = 0;
  for (size_t j = 0; j < n; j++) {
    bool keep = d.bucket[j] < last || d.w[j] > cut;
    if (!keep && d.w[j] == cut && tiesKept > 0) {
      keep = true;  // equal weights: the lowest ids first
      tiesKept--;
    }
    if (keep) {
      d.ids[count] = d.ids[j];
      d.w[count++] = d.w[j];
    }
  }
  d.ids.resize(count);
  d.w.resize(count);
}

// Fills d.ids and d.w (the candidates and their weights, renormalised by d.sum); false when no token
// can be chosen (every logit NaN or -Infinity). Not inlined into Sample: there `d` is thread_local, and
// the loops reloaded its address (__tls_get_addr) every iteration.
__attribute__((noinline)) bool Build(const float* logits, int64_t n, const int32_t* penIds, const int32_t* penCounts,
                                     int64_t np, const Options& o, Distribution& d) {
  const bool avx2 = UseAvx2();
  d.x.resize(n);
  double* x = d.x.data();
  for (int64_t i = 0; i < n; i++) x[i] = logits[i];
  if (o.frequency != 0 || o.presence != 0)
    for (int64_t j = 0; j < np; j++) x[penIds[j]] -= o.frequency * penCounts[j] + o.presence * (penCounts[j] > 0 ? 1 : 0);
  double max = -kInf;
  int64_t finite = 0;
  if (avx2) {
    const LogitScan scan = ScanLogitsAvx2(x, n);
    max = scan.max;
    finite = scan.finite;
  } else {
    for (int64_t i = 0; i < n; i++) {
      const double v = x[i] == x[i] ? x[i] : -kInf;  // NaN counts as -Infinity
      x[i] = v;
      finite += v > -kInf;
      max = v > max ? v : max;
    }
  }
  auto weights = avx2 ? WeightsAvx2 : WeightsLoop;
  d.ids.resize(n);
  d.w.resize(n);
  int32_t* ids = d.ids.data();
  double* w = d.w.data();
  if (finite == 0) return false;
  size_t count = 0;
  if (max == kInf) {  // every +Infinity shares the probability
    for (int64_t i = 0; i < n; i++)
      if (x[i] == kInf) {
        ids[count] = static_cast<int32_t>(i);
        w[count++] = 1;
      }
    d.ids.resize(count);
    d.w.resize(count);
    d.sum = static_cast<double>(count);
    return true;
  }
  // Top-k: keep values ≥ the k-th largest (the temperature does not change the order).
  double keep = -std::numeric_limits<double>::max();  // excludes -Infinity either way
  if (o.topK > 0 && o.topK < finite) {
    d.sorted.assign(x, x + n);
    std::nth_element(d.sorted.begin(), d.sorted.begin() + (o.topK - 1), d.sorted.end(), std::greater<double>());
    if (d.sorted[o.topK - 1] > -kInf) keep = d.sorted[o.topK - 1];
  }
  // The candidates (every token where nothing is cut), then their softmax weights: the maximum has
  // weight exactly 1; divided by the temperature, as the reference does (a subnormal temperature must
  // not make 0 · ∞).
  if (finite == n && keep == -std::numeric_limits<double>::max()) {
    for (int64_t i = 0; i < n; i++) ids[i] = static_cast<int32_t>(i);
    count = n;
    weights(x, max, o.temperature, w, count);
  } else {
    for (int64_t i = 0; i < n; i++) {
      ids[count] = static_cast<int32_t>(i);
      w[count] = x[i];
      count += x[i] >= keep;
    }
    weights(w, max, o.temperature, w, count);
  }
  d.ids.resize(count);
  d.w.resize(count);
  double total = 0;
  for (size_t j = 0; j < count; j++) total += w[j];
  if (o.topP < 1) {
    Nucleus(d, total, o.topP);
    total = 0;
    for (double v : d.w) total += v;
  }
  d.sum = total;
  return true;
}

// The token for a uniform draw u in [0, 1): the inverse CDF over ascending ids (the running weight
// against u times their sum: the reference's running probability against u, without dividing every
// weight); past the end (rounding) the last token of nonzero weight.
int32_t Draw(const Distribution& d, double u) {
  const double target = u * d.sum;
  const double* w = d.w.data();
  const size_t n = d.w.size();
  double cum = 0;
  for (size_t j = 0; j < n; j++) {
    cum += w[j];
    if (target < cum) return d.ids[j];
  }
  for (size_t j = n - 1; j > 0; j--)
    if (w[j] > 0) return d.ids[j];
  return d.ids[0];
}

// Why a draw's arguments cannot be used, or "" when they can, as sample() and sampleRows() both check
// them. topK as JS gave it; once checked, o.topK is it clamped to n (a top-k of the whole vocabulary or
// more keeps everything, as 0 does). negativeU: u < 0 asks for the distribution (sample() only).
std::string CheckDraw(Options& o, double topK, double u, bool negativeU, const int32_t* penIds, int64_t np, int64_t n) {
  if (!std::isfinite(o.frequency) || !std::isfinite(o.presence)) return "the penalties must be finite";
  if (!(o.temperature > 0) || !std::isfinite(o.temperature)) return "temperature must be above 0";
  if (!(o.topP > 0 && o.topP <= 1)) return "topP must lie in (0, 1]";
  if (!(topK >= 0) || topK != std::floor(topK)) return "topK must be an integer ≥ 0";
  if (!(u < 1) || (!negativeU && !(u >= 0)))
    return negativeU ? "u must lie in [0, 1), or be negative to ask for the distribution" : "u must lie in [0, 1)";
  for (int64_t j = 0; j < np; j++)
    if (penIds[j] < 0 || penIds[j] >= n) return "penaltyIds[" + std::to_string(j) + "] = " + std::to_string(penIds[j]) + " is outside [0, n)";
  o.topK = topK > static_cast<double>(n) ? n : static_cast<int64_t>(topK);
  return "";
}

Distribution& Scratch() {
  thread_local Distribution d;
  return d;
}

}  // namespace

// sample(logits, offset, n, penaltyIds, penaltyCounts, np, frequency, presence, temperature, topK, topP, u)
// -> the token id, or -1 when every logit is NaN or -Infinity. u < 0: returns {ids: Int32Array, probs:
// Float64Array} instead (the distribution, for tests), or null for no choice. Penalty ids must lie in
// [0, n) (a RangeError otherwise); temperature > 0, topP in (0, 1], topK ≥ 0 (0: off).
Napi::Value Sample(const Napi::CallbackInfo& info) {
  Args args(info, "sample", 12);
  Array x = args.array(0, "logits", Bit(ElemType::kFloat32));
  const int64_t xo = args.integer(1, "offset");
  const int64_t n = args.integer(2, "n", 1);
  args.checkRange(x, "logits", xo, n);
  Array ids = args.array(3, "penaltyIds", Bit(ElemType::kInt32));
  Array counts = args.array(4, "penaltyCounts", Bit(ElemType::kInt32));
  const int64_t np = args.integer(5, "np");
  args.checkRange(ids, "penaltyIds", 0, np);
  args.checkRange(counts, "penaltyCounts", 0, np);
  Options o{args.number(6, "frequency"), args.number(7, "presence"), args.number(8, "temperature"), args.number(10, "topP"), 0};
  const double u = args.number(11, "u");
  const int32_t* pi = ids.as<int32_t>();
  const std::string bad = CheckDraw(o, args.number(9, "topK"), u, true, pi, np, n);
  if (!bad.empty()) args.rangeError(bad);
  Distribution& d = Scratch();
  const bool ok = Build(x.as<float>() + xo, n, pi, counts.as<int32_t>(), np, o, d);
  Napi::Env env = info.Env();
  if (u >= 0) return Napi::Number::New(env, ok ? Draw(d, u) : -1);
  if (!ok) return env.Null();
  Napi::Int32Array outIds = Napi::Int32Array::New(env, d.ids.size());
  Napi::Float64Array outProbs = Napi::Float64Array::New(env, d.w.size());
  std::copy(d.ids.begin(), d.ids.end(), outIds.Data());
  for (size_t j = 0; j < d.w.size(); j++) outProbs[j] = d.w[j] / d.sum;
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", outIds);
  out.Set("probs", outProbs);
  return out;
}

// sampleRows(logits: Float32Array[], penaltyIds: Int32Array[], penaltyCounts: Int32Array[], params:
// Float64Array [rows × 6: frequency, presence, temperature, topK, topP, u], out: Int32Array [rows]):
// sample() for every row, the rows spread over the thread pool (each thread its own scratch). A
// batched decode step's sequences are sampled in one call, instead of one call each on the JS thread.
// out[r] = -1 where row r has no usable logit. Every argument is checked before any row runs.
Napi::Value SampleRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args args(info, "sampleRows", 5);
  if (!info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray()) args.typeError("logits, penaltyIds and penaltyCounts must be arrays of typed arrays");
  Napi::Array logitsList = info[0].As<Napi::Array>(), idsList = info[1].As<Napi::Array>(), countsList = info[2].As<Napi::Array>();
  const uint32_t rows = logitsList.Length();
  if (idsList.Length() != rows || countsList.Length() != rows) args.rangeError("logits, penaltyIds and penaltyCounts must have one entry per row");
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) args.typeError("params must be a Float64Array");
  Napi::Float64Array params = info[3].As<Napi::Float64Array>();
  if (params.ElementLength() != static_cast<size_t>(rows) * 6) args.rangeError("params must hold 6 numbers per row");
  Array out = args.array(4, "out", Bit(ElemType::kInt32));
  args.checkRange(out, "out", 0, rows);
  struct Row {
    const float* logits;
    int64_t n;
    const int32_t* ids;
    const int32_t* counts;
    int64_t np;
    Options o;
    double u;
  };
  std::vector<Row> work(rows);
  auto typed = [&](Napi::Value v, napi_typedarray_type type, const char* what, uint32_t r) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      args.typeError(std::string(what) + "[" + std::to_string(r) + "] has the wrong type");
    return v.As<Napi::TypedArray>();
  };
  for (uint32_t r = 0; r < rows; r++) {
    Napi::TypedArray x = typed(logitsList.Get(r), napi_float32_array, "logits", r);
    Napi::TypedArray ids = typed(idsList.Get(r), napi_int32_array, "penaltyIds", r);
    Napi::TypedArray counts = typed(countsList.Get(r), napi_int32_array, "penaltyCounts", r);
    Row& w = work[r];
    w.logits = reinterpret_cast<const float*>(static_cast<const uint8_t*>(x.ArrayBuffer().Data()) + x.ByteOffset());
    w.n = static_cast<int64_t>(x.ElementLength());
    w.ids = reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(ids.ArrayBuffer().Data()) + ids.ByteOffset());
    w.counts = reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(counts.ArrayBuffer().Data()) + counts.ByteOffset());
    w.np = static_cast<int64_t>(ids.ElementLength());
    const double* p = params.Data() + static_cast<size_t>(r) * 6;
    w.o = Options{p[0], p[1], p[2], p[4], 0};
    w.u = p[5];
    const std::string at = " (row " + std::to_string(r) + ")";
    if (w.n < 1) args.rangeError("logits must not be empty" + at);
    if (static_cast<int64_t>(counts.ElementLength()) != w.np) args.rangeError("penaltyIds and penaltyCounts differ in length" + at);
    const std::string bad = CheckDraw(w.o, p[3], w.u, false, w.ids, w.np, w.n);
    if (!bad.empty()) args.rangeError(bad + at);
  }
  int32_t* o = out.as<int32_t>();
  // Pieces of at least kGrainElements logits (2 rows of CPM-2's vocabulary): waking a thread for less
  // costs more than it saves.
  int64_t longest = 1;
  for (const Row& w : work) longest = std::max(longest, w.n);
  ParallelFor(rows, std::max<int64_t>(1, kGrainElements / longest), [&](int64_t begin, int64_t end) {
    Distribution& d = Scratch();
    for (int64_t r = begin; r < end; r++) {
      const Row& w = work[r];
      o[r] = Build(w.logits, w.n, w.ids, w.counts, w.np, w.o, d) ? Draw(d, w.u) : -1;
    }
  });
  return env.Undefined();
}

}  // namespace cpu
}  // namespace bminf
