// GEMMs through cublasLt: int8 x int8 -> int32 (igemm) and float16/float32 with float32 accumulation
// (gemm, batched and strided). Descriptors, layouts and the chosen algorithm are cached per shape; the
// algorithm is picked from cublasLt's heuristic candidates by timing each once (large shapes only),
// with a 32 MiB workspace (PyTorch's torch._int_mm passes none and takes the first candidate).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/handles.h"
#include "cuda/memory.h"

namespace bminf::cuda {
namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;
// BMINF_LT_LOG=1 prints each timed candidate and the one taken (stderr), to study the choice.
const bool kLog = std::getenv("BMINF_LT_LOG") != nullptr;
constexpr int kCandidates = 8;
// Float GEMMs below this many multiply-adds take the first heuristic candidate as is: timing would cost
// more than it saves (attention GEMMs change shape at every decoding step). igemm always times.
constexpr double kTimeAboveMacs = 1 << 27;

struct Layout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
  int order = CUBLASLT_ORDER_COL;
  int batch = 1;
  int64_t stride = 0;
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

// A plan's key: every number that shapes the descriptors, plus the operands' alignment (cublasLt's
// heuristic picks kernels by it). Fixed-size and hashed: it is built on every GEMM call.
struct PlanKey {
  int64_t v[27];
  bool operator==(const PlanKey& o) const { return std::memcmp(v, o.v, sizeof(v)) == 0; }
};
struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    uint64_t h = 1469598103934665603ULL;
    for (int64_t x : k.v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ULL;
    return static_cast<size_t>(h);
  }
};

struct Ctx {
  bool ready = false;
  cublasLtHandle_t h = nullptr;
  CUdeviceptr ws = 0;
  cublasLtMatmulPreference_t pref = nullptr, pref0 = nullptr;  // 32 MiB workspace; none (as PyTorch asks)
  CUevent t0 = nullptr, t1 = nullptr;
  std::unordered_map<PlanKey, Plan, PlanKeyHash> plans;
  // Scratch for the COL32 transform path (grown on demand).
  CUdeviceptr scratch = 0;
  size_t scratchSize = 0;
};
Ctx g_ctx;

std::string LtError(State& s, cublasStatus_t st) {
  const char* name = s.lt.cublasLtGetStatusName ? s.lt.cublasLtGetStatusName(st) : nullptr;
  return std::string(name ? name : "CUBLAS_STATUS") + " (" + std::to_string(st) + ")";
}

void CheckLt(Napi::Env env, State& s, cublasStatus_t st, const std::string& what) {
  if (st != CUBLAS_STATUS_SUCCESS) ThrowError(env, what + " failed: " + LtError(s, st), "BMINF_CUBLASLT");
}

Ctx& GetCtx(Napi::Env env, State& s) {
  Ctx& c = g_ctx;
  if (c.ready) return c;
  CheckLt(env, s, s.lt.cublasLtCreate(&c.h), "cublasLtCreate");
  CheckDrv(env, s.drv.cuMemAlloc(&c.ws, kWorkspaceBytes), "cuMemAlloc (cublasLt workspace)");
  CheckLt(env, s, s.lt.cublasLtMatmulPreferenceCreate(&c.pref), "cublasLtMatmulPreferenceCreate");
  uint64_t wsBytes = kWorkspaceBytes;
  CheckLt(env, s, s.lt.cublasLtMatmulPreferenceSetAttribute(c.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes, sizeof(wsBytes)),
          "cublasLtMatmulPreferenceSetAttribute");
  CheckLt(env, s, s.lt.cublasLtMatmulPreferenceCreate(&c.pref0), "cublasLtMatmulPreferenceCreate");
  uint64_t none = 0;
  CheckLt(env, s, s.lt.cublasLtMatmulPreferenceSetAttribute(c.pref0, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &none, sizeof(none)),
          "cublasLtMatmulPreferenceSetAttribute");
  CheckDrv(env, s.drv.cuEventCreate(&c.t0, CU_EVENT_DEFAULT), "cuEventCreate");
  CheckDrv(env, s.drv.cuEventCreate(&c.t1, CU_EVENT_DEFAULT), "cuEventCreate");
  c.ready = true;
  return c;
}

cublasLtMatrixLayout_t MakeLayout(Napi::Env env, State& s, const Layout& l) {
  cublasLtMatrixLayout_t out = nullptr;
  CheckLt(env, s, s.lt.cublasLtMatrixLayoutCreate(&out, l.type, l.rows, l.cols, l.ld), "cublasLtMatrixLayoutCreate");
  if (l.order != CUBLASLT_ORDER_COL) {
    int32_t order = l.order;
    CheckLt(env, s, s.lt.cublasLtMatrixLayoutSetAttribute(out, CUBLASLT_MATRIX_LAYOUT_ORDER, &order, sizeof(order)), "set layout order");
  }
  if (l.batch > 1) {
    int32_t batch = l.batch;
    int64_t stride = l.stride;
    CheckLt(env, s, s.lt.cublasLtMatrixLayoutSetAttribute(out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof(batch)), "set batch count");
    CheckLt(env, s, s.lt.cublasLtMatrixLayoutSetAttribute(out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)),
            "set batch stride");
  }
  return out;
}

int AlignClass(CUdeviceptr p) {
  for (int a : {16, 8, 4, 2}) if (p % a == 0) return a;
  return 1;
}

PlanKey Key(int compute, int opA, int opB, const Layout& a, const Layout& b, const Layout& c, CUdeviceptr pa, CUdeviceptr pb,
            CUdeviceptr pc) {
  PlanKey k{};
  int i = 0;
  k.v[i++] = compute, k.v[i++] = opA, k.v[i++] = opB;
  for (const Layout* l : {&a, &b, &c}) {
    k.v[i++] = l->type, k.v[i++] = static_cast<int64_t>(l->rows), k.v[i++] = static_cast<int64_t>(l->cols), k.v[i++] = l->ld;
    k.v[i++] = l->order, k.v[i++] = l->batch, k.v[i++] = l->stride;
  }
  k.v[i++] = AlignClass(pa), k.v[i++] = AlignClass(pb), k.v[i++] = AlignClass(pc);
  return k;
}

// Runs D = alpha * op(A) * op(B) (+ 0 * C) with D = C, through the cached plan for this shape.
void Matmul(Napi::Env env, State& s, int compute, int scaleType, int opA, int opB, const Layout& la, const Layout& lb,
            const Layout& lc, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, const void* alpha, const void* beta, double macs,
            const std::string& what, bool alwaysTime = false) {
  Ctx& c = GetCtx(env, s);
  PlanKey key = Key(compute, opA, opB, la, lb, lc, pa, pb, pc);
  auto it = c.plans.find(key);
  if (it == c.plans.end()) {
    if (c.plans.size() > 4096) c.plans.clear();  // bounded: shapes that come and go (growing contexts)
    Plan p;
    CheckLt(env, s, s.lt.cublasLtMatmulDescCreate(&p.desc, compute, scaleType), "cublasLtMatmulDescCreate");
    int32_t ta = opA, tb = opB;
    CheckLt(env, s, s.lt.cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "set transa");
    CheckLt(env, s, s.lt.cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "set transb");
    p.a = MakeLayout(env, s, la);
    p.b = MakeLayout(env, s, lb);
    p.c = MakeLayout(env, s, lc);
    // Candidates: the heuristic's best with the 32 MiB workspace, and (when timing) also its best with
    // none, which for small shapes avoids split-K kernels that cost a second launch.
    cublasLtMatmulHeuristicResult_t res[2 * kCandidates];
    std::memset(res, 0, sizeof(res));
    int n = 0;
    cublasStatus_t st = s.lt.cublasLtMatmulAlgoGetHeuristic(c.h, p.desc, p.a, p.b, p.c, p.c, c.pref, kCandidates, res, &n);
    if (st == CUBLAS_STATUS_SUCCESS && n > 0 && (alwaysTime || macs >= kTimeAboveMacs)) {
      int n0 = 0;
      if (s.lt.cublasLtMatmulAlgoGetHeuristic(c.h, p.desc, p.a, p.b, p.c, p.c, c.pref0, kCandidates / 2, res + n, &n0) == CUBLAS_STATUS_SUCCESS) n += n0;
    }
    if (st != CUBLAS_STATUS_SUCCESS || n == 0) {
      s.lt.cublasLtMatmulDescDestroy(p.desc);
      s.lt.cublasLtMatrixLayoutDestroy(p.a), s.lt.cublasLtMatrixLayoutDestroy(p.b), s.lt.cublasLtMatrixLayoutDestroy(p.c);
      ThrowError(env, what + ": cublasLt has no algorithm for this shape and layout (" + LtError(s, st) + ", " + std::to_string(n) +
                          " candidates).", "BMINF_CUBLASLT_UNSUPPORTED");
    }
    int best = 0;
    if (n > 1 && (alwaysTime || macs >= kTimeAboveMacs)) {
      // Short GEMMs are timed over more repetitions and in 3 rounds that visit every candidate in turn,
      // each keeping its best round: a GPU clock still ramping up, or a busy host, then slows every
      // candidate alike instead of whichever came first (a single round picked algorithms 1.6x slower
      // than the best at 4096 x 4096 with 64 rows in one of two runs, H100, 2026-11-24). A later candidate
      // must beat the heuristic's favourite by 3 % to be taken, so that noise does not pick a worse one.
      // (Up to 10240 x 10240 with 64 rows: ~45 us a call, ~30 ms once per shape for 12 candidates.)
      const bool shortGemm = macs < 8.0 * (1 << 30);
      const int reps = shortGemm ? 20 : 3;
      const int rounds = shortGemm ? 3 : 1;
      std::vector<float> ms(n, 1e30f);
      auto run = [&](int i) {
        return s.lt.cublasLtMatmul(c.h, p.desc, alpha, reinterpret_cast<void*>(pa), p.a, reinterpret_cast<void*>(pb), p.b, beta,
                                   reinterpret_cast<void*>(pc), p.c, reinterpret_cast<void*>(pc), p.c, &res[i].algo,
                                   reinterpret_cast<void*>(c.ws), kWorkspaceBytes, s.stream);
      };
      std::vector<char> usable(n, 0);
      for (int i = 0; i < n; i++) {
        // warm-up; a candidate that fails is skipped
        usable[i] = res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= kWorkspaceBytes && run(i) == CUBLAS_STATUS_SUCCESS;
      }
      for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < n; i++) {
          if (!usable[i]) continue;
          // Timed back to back as the model calls it: for short GEMMs that includes the host's time to
          // issue each call, which differs between algorithms (one kernel or two, cluster launches). An
          // attempt to time the GPU alone (a blocker queued first) picked algorithms that were slower in
          // use at 4096 x 4096 with 16-64 rows (H100, bench of 2026-11-24).
          s.drv.cuEventRecord(c.t0, s.stream);
          for (int r = 0; r < reps; r++) run(i);
          s.drv.cuEventRecord(c.t1, s.stream);
          float t = 0;
          if (s.drv.cuEventSynchronize(c.t1) != CUDA_SUCCESS || s.drv.cuEventElapsedTime(&t, c.t0, c.t1) != CUDA_SUCCESS) continue;
          if (t < ms[i]) ms[i] = t;
          if (kLog) std::fprintf(stderr, "[bminf cublasLt] %s m=%lu n=%lu k=%lld: round %d candidate %d (workspace %zu) %.2f us per call\n", what.c_str(),
                                 static_cast<unsigned long>(lc.cols), static_cast<unsigned long>(lc.rows), static_cast<long long>(la.rows), round, i,
                                 res[i].workspaceSize, 1000.0 * t / reps);
        }
      }
      float bestMs = 1e30f;
      for (int i = 0; i < n; i++) {
        if (ms[i] == 1e30f) continue;
        if (bestMs == 1e30f || ms[i] < bestMs * 0.97f) bestMs = ms[i], best = i;
      }
    }
    if (kLog) std::fprintf(stderr, "[bminf cublasLt] %s: candidate %d of %d taken\n", what.c_str(), best, n);
    p.algo = res[best].algo;
    p.workspace = res[best].workspaceSize;
    it = c.plans.emplace(key, p).first;
  }
  Plan& p = it->second;
  CheckLt(env, s,
          s.lt.cublasLtMatmul(c.h, p.desc, alpha, reinterpret_cast<void*>(pa), p.a, reinterpret_cast<void*>(pb), p.b, beta,
                              reinterpret_cast<void*>(pc), p.c, reinterpret_cast<void*>(pc), p.c, &p.algo, reinterpret_cast<void*>(c.ws),
                              kWorkspaceBytes, s.stream),
          what + ": cublasLtMatmul");
}

uint64_t Need(uint64_t batch, int64_t batchStride, uint64_t rows, int64_t ld, uint64_t cols, uint64_t elem) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  return ((batch - 1) * static_cast<uint64_t>(batchStride) + (rows - 1) * static_cast<uint64_t>(ld) + cols) * elem;
}

// gemm(dtype, transA, transB, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, C, batch), where A, B
// and C are (region, byteOffset, byteLength) triples. Row-major, as the Backend contract says:
// C[b] (m x n, packed) = alpha * op(A[b]) * op(B[b]); A is m x k (k x m when transA) with row stride lda
// and batch stride strideA (elements); B likewise k x n (n x k when transB).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (!info[0].IsString()) ThrowType(env, "gemm: dtype must be 'float16' or 'float32'.");
  std::string dtype = info[0].As<Napi::String>();
  if (dtype != "float16" && dtype != "float32") ThrowType(env, "gemm: dtype must be 'float16' or 'float32', not " + dtype + ".");
  uint64_t es = dtype == "float16" ? 2 : 4;
  int type = dtype == "float16" ? CUDA_R_16F : CUDA_R_32F;
  bool transA = info[1].ToBoolean(), transB = info[2].ToBoolean();
  const int64_t kMax = 2147483647;
  int64_t m = ToInt(info[3], "m", 0, kMax), n = ToInt(info[4], "n", 0, kMax), k = ToInt(info[5], "k", 0, kMax);
  if (!info[6].IsNumber()) ThrowType(env, "gemm: alpha must be a number.");
  float alpha = info[6].As<Napi::Number>().FloatValue();
  size_t lenA, lenB, lenC;
  CUdeviceptr pa = SpanAt(info, 7, "A", &lenA);
  int64_t lda = ToInt(info[10], "lda", 0, kMax), strideA = ToInt(info[11], "strideA", 0, 1LL << 50);
  CUdeviceptr pb = SpanAt(info, 12, "B", &lenB);
  int64_t ldb = ToInt(info[15], "ldb", 0, kMax), strideB = ToInt(info[16], "strideB", 0, 1LL << 50);
  CUdeviceptr pc = SpanAt(info, 17, "C", &lenC);
  int64_t batch = ToInt(info[20], "batch", 1, 65535);
  uint64_t rowsA = transA ? k : m, colsA = transA ? m : k, rowsB = transB ? n : k, colsB = transB ? k : n;
  if (rowsA > 1 && lda < static_cast<int64_t>(colsA)) ThrowRange(env, "gemm: lda " + std::to_string(lda) + " is less than A's row length " + std::to_string(colsA) + ".");
  if (rowsB > 1 && ldb < static_cast<int64_t>(colsB)) ThrowRange(env, "gemm: ldb " + std::to_string(ldb) + " is less than B's row length " + std::to_string(colsB) + ".");
  if (Need(batch, strideA, rowsA, lda, colsA, es) > lenA) ThrowRange(env, "gemm: A's span is too short for its shape and strides.");
  if (Need(batch, strideB, rowsB, ldb, colsB, es) > lenB) ThrowRange(env, "gemm: B's span is too short for its shape and strides.");
  if (static_cast<uint64_t>(batch * m * n) * es > lenC) ThrowRange(env, "gemm: C's span is too short for its shape.");
  if (m == 0 || n == 0) return env.Undefined();
  if (k == 0) {
    CheckDrv(env, s.drv.cuMemsetD8Async(pc, 0, static_cast<size_t>(batch * m * n * es), s.stream), "cuMemsetD8Async");
    return env.Undefined();
  }
  // Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: B's buffer is cublasLt's first operand.
  if (lda < static_cast<int64_t>(colsA)) lda = colsA;  // a single row: any stride will do
  if (ldb < static_cast<int64_t>(colsB)) ldb = colsB;
  Layout l1{type, colsB, rowsB, ldb, CUBLASLT_ORDER_COL, static_cast<int>(batch), strideB};
  Layout l2{type, colsA, rowsA, lda, CUBLASLT_ORDER_COL, static_cast<int>(batch), strideA};
  Layout l3{type, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n, CUBLASLT_ORDER_COL, static_cast<int>(batch), m * n};
  float beta = 0;
  Matmul(env, s, CUBLAS_COMPUTE_32F, CUDA_R_32F, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, l1, l2, l3,
         pb, pa, pc, &alpha, &beta, static_cast<double>(batch) * m * n * k, "gemm");
  return env.Undefined();
}

CUdeviceptr Scratch(Napi::Env env, State& s, Ctx& c, size_t bytes) {
  if (c.scratchSize < bytes) {
    if (c.scratch) {
      s.drv.cuStreamSynchronize(s.stream);
      s.drv.cuMemFree(c.scratch);
      c.scratch = 0, c.scratchSize = 0;
    }
    CheckDrv(env, s.drv.cuMemAlloc(&c.scratch, bytes), "cuMemAlloc (igemm COL32 scratch)");
    c.scratchSize = bytes;
  }
  return c.scratch;
}

void Transform(Napi::Env env, State& s, Ctx& c, CUdeviceptr src, const Layout& ls, CUdeviceptr dst, const Layout& ld) {
  cublasLtMatrixTransformDesc_t t = nullptr;
  CheckLt(env, s, s.lt.cublasLtMatrixTransformDescCreate(&t, CUDA_R_32F), "cublasLtMatrixTransformDescCreate");
  cublasLtMatrixLayout_t a = MakeLayout(env, s, ls), d = MakeLayout(env, s, ld);
  float one = 1, zero = 0;
  cublasStatus_t st = s.lt.cublasLtMatrixTransform(c.h, t, &one, reinterpret_cast<void*>(src), a, &zero, nullptr, nullptr,
                                                   reinterpret_cast<void*>(dst), d, s.stream);
  s.lt.cublasLtMatrixLayoutDestroy(a), s.lt.cublasLtMatrixLayoutDestroy(d), s.lt.cublasLtMatrixTransformDescDestroy(t);
  CheckLt(env, s, st, "cublasLtMatrixTransform");
}

// igemm(A, B, C, m, n, k[, path]): C[m, n] (int32) = A[m, k] (int8) * B[n, k]ᵀ, all packed row-major.
// path 'auto' picks by compute capability: sm_90 and later take the plain "TN" layouts that cublasLt
// requires there; sm_75 to sm_89 take BMInf's path: A and C in COL32, B in COL4_4R2_8C (Turing) or
// COL32_2R_4R4 (Ampere, Ada), transformed to and from row-major around the matmul.
Napi::Value Igemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  size_t lenA, lenB, lenC;
  CUdeviceptr pa = SpanAt(info, 0, "A", &lenA);
  CUdeviceptr pb = SpanAt(info, 3, "B", &lenB);
  CUdeviceptr pc = SpanAt(info, 6, "C", &lenC);
  const int64_t kMax = 2147483647;
  int64_t m = ToInt(info[9], "m", 0, kMax), n = ToInt(info[10], "n", 0, kMax), k = ToInt(info[11], "k", 0, kMax);
  std::string path = info.Length() > 12 && info[12].IsString() ? info[12].As<Napi::String>().Utf8Value() : "auto";
  if (path != "auto" && path != "tn" && path != "col32") ThrowType(env, "igemm: path must be 'auto', 'tn' or 'col32'.");
  if (static_cast<uint64_t>(m * k) > lenA) ThrowRange(env, "igemm: A's span is shorter than m*k bytes.");
  if (static_cast<uint64_t>(n * k) > lenB) ThrowRange(env, "igemm: B's span is shorter than n*k bytes.");
  if (static_cast<uint64_t>(m * n) * 4 > lenC) ThrowRange(env, "igemm: C's span is shorter than m*n*4 bytes.");
  if (k % 4 || n % 4) ThrowRange(env, "igemm: k (" + std::to_string(k) + ") and n (" + std::to_string(n) + ") must be multiples of 4 for cublasLt's int8 kernels.");
  if (pa % 4 || pb % 4 || pc % 4) ThrowRange(env, "igemm: A, B and C must start at 4-byte aligned addresses.");
  if (m == 0 || n == 0) return env.Undefined();
  if (k == 0) {
    CheckDrv(env, s.drv.cuMemsetD8Async(pc, 0, static_cast<size_t>(m * n * 4), s.stream), "cuMemsetD8Async");
    return env.Undefined();
  }
  int cc = s.ccMajor * 10 + s.ccMinor;
  bool col32 = path == "col32" || (path == "auto" && cc >= 75 && cc < 90);
  int32_t one = 1, zero = 0;
  double macs = static_cast<double>(m) * n * k;
  if (!col32) {
    // Column-major Cᵀ (n x m) = Bᵀᵀ... i.e. op(B-buffer, T) * op(A-buffer, N): the "TN" form.
    Layout lb{CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k};
    Layout la{CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k};
    Layout lc{CUDA_R_32I, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n};
    // Linear layers have few, fixed shapes: their candidates are always timed.
    Matmul(env, s, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_T, CUBLAS_OP_N, lb, la, lc, pb, pa, pc, &one, &zero, macs, "igemm", true);
    return env.Undefined();
  }
  Ctx& c = GetCtx(env, s);
  bool turing = cc < 80;
  auto up = [](int64_t x, int64_t a) { return (x + a - 1) / a * a; };
  int64_t ldA = 32 * m, ldB = turing ? 32 * up(n, 8) : 32 * up(n, 32), ldC = 32 * m;
  size_t bytesA = static_cast<size_t>(ldA * up(k, 32) / 32), bytesB = static_cast<size_t>(ldB * up(k, 32) / 32);
  size_t bytesC = static_cast<size_t>(ldC * up(n, 32) / 32 * 4);
  auto al = [](size_t x) { return (x + 255) / 256 * 256; };
  CUdeviceptr base = Scratch(env, s, c, al(bytesA) + al(bytesB) + al(bytesC));
  CUdeviceptr a32 = base, b32 = base + al(bytesA), c32 = b32 + al(bytesB);
  Layout rowA{CUDA_R_8I, static_cast<uint64_t>(m), static_cast<uint64_t>(k), k, CUBLASLT_ORDER_ROW};
  Layout rowB{CUDA_R_8I, static_cast<uint64_t>(n), static_cast<uint64_t>(k), k, CUBLASLT_ORDER_ROW};
  Layout rowC{CUDA_R_32I, static_cast<uint64_t>(m), static_cast<uint64_t>(n), n, CUBLASLT_ORDER_ROW};
  Layout tA{CUDA_R_8I, static_cast<uint64_t>(m), static_cast<uint64_t>(k), ldA, CUBLASLT_ORDER_COL32};
  Layout tB{CUDA_R_8I, static_cast<uint64_t>(n), static_cast<uint64_t>(k), ldB, turing ? CUBLASLT_ORDER_COL4_4R2_8C : CUBLASLT_ORDER_COL32_2R_4R4};
  Layout tC{CUDA_R_32I, static_cast<uint64_t>(m), static_cast<uint64_t>(n), ldC, CUBLASLT_ORDER_COL32};
  Transform(env, s, c, pa, rowA, a32, tA);
  Transform(env, s, c, pb, rowB, b32, tB);
  Matmul(env, s, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_N, CUBLAS_OP_T, tA, tB, tC, a32, b32, c32, &one, &zero, macs, "igemm (COL32)");
  Transform(env, s, c, c32, tC, pc, rowC);
  return env.Undefined();
}

}  // namespace

void RegisterBlasLt(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("igemm", Napi::Function::New(env, Igemm));
}

}  // namespace bminf::cuda
