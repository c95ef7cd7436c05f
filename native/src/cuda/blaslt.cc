// GEMMs through cublasLt: int8 x int8 -> int32 (igemm) and float16/float32 with float32 accumulation
// (gemm, batched and strided). Descriptors, layouts and the chosen algorithm are cached per shape; the
// algorithm is picked from cublasLt's heuristic candidates by timing each once (large shapes only),
// with a 32 MiB workspace (PyTorch's torch._int_mm passes none and takes the first candidate); igemm
// with up to 64 rows also times the best of an exhaustive search over algorithm ids, tiles, stages,
// split-K and swizzling (SearchSkinny).
#include <algorithm>
#include <array>
#include <chrono>
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
// Unset, empty or "0" leaves it off.
const bool kLog = [] {
  const char* v = std::getenv("BMINF_LT_LOG");
  return v != nullptr && v[0] != '\0' && !(v[0] == '0' && v[1] == '\0');
}();
// Heuristic candidates asked for with the workspace (half as many without); BMINF_LT_CANDIDATES=N
// (2-32) changes it, to study the choice.
int CandidateCount() {
  const char* v = std::getenv("BMINF_LT_CANDIDATES");
  int n = v ? std::atoi(v) : 8;
  return n < 2 ? 8 : n > 32 ? 32 : n;
}
const int kCandidates = CandidateCount();
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

struct GraphKey {
  const Plan* plan;
  CUdeviceptr a, b, c;
  bool operator==(const GraphKey& o) const { return plan == o.plan && a == o.a && b == o.b && c == o.c; }
};
struct GraphKeyHash {
  size_t operator()(const GraphKey& k) const {
    uint64_t h = reinterpret_cast<uintptr_t>(k.plan) * 0x9E3779B97F4A7C15ULL;
    for (uint64_t x : {k.a, k.b, k.c}) h = (h ^ x) * 1099511628211ULL;
    return static_cast<size_t>(h);
  }
};

// How igemm (TN path) issues its cublasLt call. The product's way is 2: the call captured once per plan
// and operand addresses into a CUDA graph, replayed with cuGraphLaunch. Measured on the H100 VM: host
// time per call 2.3 us, against 7.4 us for cublasLtMatmul itself (the addon's own checks and plan
// lookup: 0.45 us); the GPU runs the same kernel, so the product is bit-for-bit the same
// (packages/kernels/cuda/NOTES.md). Benchmarks switch it with `bench.igemmMode(m)`: 0 calls
// cublasLtMatmul each time; 1 runs no GEMM at all (every check and plan lookup runs, the product is NOT
// computed), which is the addon's own host cost per call.
int g_igemmMode = 2;

// igemm's algorithm search for skinny products (see SearchSkinny): on in the product; benchmarks
// comparing both in one process switch it with `bench.igemmSearch(on)`.
bool g_ltSearch = true;

struct Ctx {
  bool ready = false;
  cublasLtHandle_t h = nullptr;
  CUdeviceptr ws = 0;
  cublasLtMatmulPreference_t pref = nullptr, pref0 = nullptr;  // 32 MiB workspace; none (as PyTorch asks)
  CUevent t0 = nullptr, t1 = nullptr;
  std::unordered_map<PlanKey, Plan, PlanKeyHash> plans;
  // igemm's last shape and plan: a linear layer calls the same shape many times in a row, so most
  // calls skip building and hashing the key (m, n, k and the operands' alignment classes decide it).
  struct {
    int64_t m = -1, n = 0, k = 0;
    int align = 0;
    Plan* plan = nullptr;
  } lastIgemm;
  // igemm mode 2 (see g_igemmMode): one CUDA graph per plan and operand addresses; null where the
  // capture failed (that call then goes to cublasLt directly).
  struct Graph {
    CUgraphExec exec = nullptr;
    bool tried = false;  // captured (exec) or failed to (null); false: seen once, called directly
  };
  std::unordered_map<GraphKey, Graph, GraphKeyHash> graphs;
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
  if (st == CUBLAS_STATUS_SUCCESS) return;
  std::string msg = what + " failed: " + LtError(s, st);
  if (st == CUBLAS_STATUS_EXECUTION_FAILED) {
    // cublasLt says only that its kernel did not run. Whether the context already holds a fault from an
    // earlier kernel (sticky: every later call fails alike) or cublasLt's own launch failed tells where to
    // look; the stream is waited on either way before the error goes up.
    const CUresult r = s.drv.cuStreamSynchronize(s.stream);
    msg += r == CUDA_SUCCESS ? "; the device reports no fault, so cublasLt's own launch failed"
                             : "; the device reports " + DriverError(r) +
                                   ", so an earlier kernel faulted (CUDA_LAUNCH_BLOCKING=1 makes the faulting launch report itself)";
  }
  ThrowError(env, msg, "BMINF_CUBLASLT");
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

// An operand's alignment in bytes, up to 256. cublasLt's heuristic assumes 256 unless told otherwise
// (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES), so each plan tells it what its operands have, and the
// plan is keyed by it.
int AlignClass(CUdeviceptr p) {
  for (int a = 256; a > 1; a /= 2) if (p % a == 0) return a;
  return 1;
}

// The alignments of cublasLt's A, B, C and D (D is C here), in the order of its MIN_ALIGNMENT attributes.
std::array<uint32_t, 4> OperandAlignments(CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc) {
  const auto a = [](CUdeviceptr p) { return static_cast<uint32_t>(AlignClass(p)); };
  return {a(pa), a(pb), a(pc), a(pc)};
}

// "id 21 tile 20 stages 8 splitK 1 reduction 0 swizzle 0": a candidate's configuration, for logs and errors.
std::string AlgoText(const Lt& lt, const cublasLtMatmulAlgo_t& algo) {
  const int attrs[6] = {CUBLASLT_ALGO_CONFIG_ID, CUBLASLT_ALGO_CONFIG_TILE_ID, CUBLASLT_ALGO_CONFIG_STAGES_ID, CUBLASLT_ALGO_CONFIG_SPLITK_NUM,
                        CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING};
  const char* names[6] = {"id", "tile", "stages", "splitK", "reduction", "swizzle"};
  std::string out;
  for (int q = 0; q < 6; q++) {
    uint32_t v = 0;
    size_t w = 0;
    if (lt.cublasLtMatmulAlgoConfigGetAttribute) lt.cublasLtMatmulAlgoConfigGetAttribute(&algo, attrs[q], &v, sizeof(v), &w);
    out += (q ? " " : "") + std::string(names[q]) + " " + std::to_string(v);
  }
  return out;
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

// Frees a plan's descriptors (cublasLt handles them out of host memory; dropping the Plan leaks them).
void DestroyPlan(State& s, Plan& p) {
  if (p.desc) s.lt.cublasLtMatmulDescDestroy(p.desc);
  for (cublasLtMatrixLayout_t l : {p.a, p.b, p.c}) if (l) s.lt.cublasLtMatrixLayoutDestroy(l);
  p = Plan{};
}

void ClearGraphs(State& s, Ctx& c) {
  // An exec still in flight is freed by the driver when it completes.
  for (auto& g : c.graphs) if (g.second.exec) s.drv.cuGraphExecDestroy(g.second.exec);
  c.graphs.clear();
  c.lastIgemm = {};
}

// Candidates beyond the heuristic's 7-8 for igemm with few rows (FasterTransformer's igemm search):
// every algorithm id cublasLt has for int8 x int8 -> int32, each tile, up to 3 stage counts, CTA
// swizzling and split-K (with each reduction scheme) that cublasLtMatmulAlgoCheck accepts for this
// shape, each timed briefly on the real operands; the `keep` fastest go on to GetPlan's rounds
// against the heuristic's candidates. Bounded: 40000 checks, 1500 valid configurations, 3 s of
// timing, once per shape. Any valid algorithm gives the same bits (int32 sums are exact).
std::vector<cublasLtMatmulHeuristicResult_t> SearchSkinny(State& s, Ctx& c, const Plan& p, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc,
                                                          const void* alpha, const void* beta, int keep) {
  std::vector<cublasLtMatmulHeuristicResult_t> found;
  const Lt& lt = s.lt;
  if (!lt.cublasLtMatmulAlgoGetIds) return found;
  int ids[256];
  int nIds = 0;
  if (lt.cublasLtMatmulAlgoGetIds(c.h, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUDA_R_8I, CUDA_R_8I, CUDA_R_32I, CUDA_R_32I, 256, ids, &nIds) !=
      CUBLAS_STATUS_SUCCESS)
    return found;
  auto capList = [&](const cublasLtMatmulAlgo_t& a, int attr) {
    size_t w = 0;
    std::vector<uint32_t> v;
    if (lt.cublasLtMatmulAlgoCapGetAttribute(&a, attr, nullptr, 0, &w) == CUBLAS_STATUS_SUCCESS && w >= 4) {
      v.resize(w / 4);
      if (lt.cublasLtMatmulAlgoCapGetAttribute(&a, attr, v.data(), v.size() * 4, &w) != CUBLAS_STATUS_SUCCESS) v.clear();
    }
    if (v.empty()) v.push_back(0);  // UNDEFINED: the algorithm's own choice
    return v;
  };
  auto capInt = [&](const cublasLtMatmulAlgo_t& a, int attr) {
    uint32_t v = 0;
    size_t w = 0;
    return lt.cublasLtMatmulAlgoCapGetAttribute(&a, attr, &v, sizeof(v), &w) == CUBLAS_STATUS_SUCCESS ? v : 0u;
  };
  auto set = [&](cublasLtMatmulAlgo_t& a, int attr, uint32_t v) { lt.cublasLtMatmulAlgoConfigSetAttribute(&a, attr, &v, sizeof(v)); };
  // cublasLtMatmulAlgoCheck sees the layouts, not the pointers: an algorithm that needs more alignment
  // than an operand has is left out here (the heuristic's candidates are filtered by the preference).
  const std::array<uint32_t, 4> have = OperandAlignments(pa, pb, pc);
  const int alignCaps[4] = {CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_A_BYTES, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_B_BYTES, CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_C_BYTES,
                            CUBLASLT_ALGO_CAP_MIN_ALIGNMENT_D_BYTES};
  auto aligned = [&](const cublasLtMatmulAlgo_t& a) {
    for (int q = 0; q < 4; q++) if (capInt(a, alignCaps[q]) > have[q]) return false;
    return true;
  };
  auto check = [&](const cublasLtMatmulAlgo_t& a, cublasLtMatmulHeuristicResult_t* r) {
    std::memset(r, 0, sizeof(*r));
    return lt.cublasLtMatmulAlgoCheck(c.h, p.desc, p.a, p.b, p.c, p.c, &a, r) == CUBLAS_STATUS_SUCCESS && r->workspaceSize <= kWorkspaceBytes;
  };
  const uint32_t splits[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32};
  int checks = 0;
  const int kMaxChecks = 40000, kMaxValid = 1500;
  for (int i = 0; i < nIds && checks < kMaxChecks && static_cast<int>(found.size()) < kMaxValid; i++) {
    cublasLtMatmulAlgo_t base{};
    if (lt.cublasLtMatmulAlgoInit(c.h, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUDA_R_8I, CUDA_R_8I, CUDA_R_32I, CUDA_R_32I, ids[i], &base) !=
            CUBLAS_STATUS_SUCCESS ||
        !aligned(base))
      continue;
    const auto tiles = capList(base, CUBLASLT_ALGO_CAP_TILE_IDS), stages = capList(base, CUBLASLT_ALGO_CAP_STAGES_IDS);
    const bool splitK = capInt(base, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT) != 0;
    const uint32_t redMask = capInt(base, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK);
    const uint32_t swizzleMax = capInt(base, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT) ? 1 : 0;
    for (uint32_t tile : tiles) {
      // The stage counts this tile accepts (unsplit); at most 3 of them, spread over the list.
      std::vector<uint32_t> okStages;
      for (uint32_t st : stages) {
        if (checks >= kMaxChecks) break;
        cublasLtMatmulAlgo_t a = base;
        cublasLtMatmulHeuristicResult_t r;
        set(a, CUBLASLT_ALGO_CONFIG_TILE_ID, tile), set(a, CUBLASLT_ALGO_CONFIG_STAGES_ID, st);
        checks++;
        if (check(a, &r)) okStages.push_back(st);
      }
      std::vector<uint32_t> pick;
      for (size_t j = 0; j < okStages.size() && pick.size() < 3; j += std::max<size_t>(1, okStages.size() / 3)) pick.push_back(okStages[j]);
      for (uint32_t st : pick) {
        for (uint32_t sw = 0; sw <= swizzleMax; sw++) {
          for (uint32_t sk : splits) {
            if (sk > 1 && !splitK) break;
            for (uint32_t red = 0; red <= 4; red = red ? red * 2 : 1) {
              if ((sk == 1) != (red == CUBLASLT_REDUCTION_SCHEME_NONE) || (red && !(redMask & red))) continue;
              if (checks >= kMaxChecks || static_cast<int>(found.size()) >= kMaxValid) break;
              cublasLtMatmulAlgo_t a = base;
              set(a, CUBLASLT_ALGO_CONFIG_TILE_ID, tile), set(a, CUBLASLT_ALGO_CONFIG_STAGES_ID, st);
              set(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, sw), set(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, sk);
              set(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, red);
              cublasLtMatmulHeuristicResult_t r;
              checks++;
              if (check(a, &r)) r.algo = a, r.state = CUBLAS_STATUS_SUCCESS, found.push_back(r);
            }
          }
        }
      }
    }
  }
  // Quick timing: a warm-up call, then 3 back to back; a configuration that fails to run is dropped.
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::pair<float, int>> timed;
  for (int i = 0; i < static_cast<int>(found.size()); i++) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(3)) break;
    auto run = [&] {
      return lt.cublasLtMatmul(c.h, p.desc, alpha, reinterpret_cast<void*>(pa), p.a, reinterpret_cast<void*>(pb), p.b, beta,
                               reinterpret_cast<void*>(pc), p.c, reinterpret_cast<void*>(pc), p.c, &found[i].algo,
                               reinterpret_cast<void*>(c.ws), kWorkspaceBytes, s.stream);
    };
    if (run() != CUBLAS_STATUS_SUCCESS) continue;
    s.drv.cuEventRecord(c.t0, s.stream);
    bool ok = true;
    for (int r = 0; r < 3 && ok; r++) ok = run() == CUBLAS_STATUS_SUCCESS;
    s.drv.cuEventRecord(c.t1, s.stream);
    float t = 0;
    if (!ok || s.drv.cuEventSynchronize(c.t1) != CUDA_SUCCESS || s.drv.cuEventElapsedTime(&t, c.t0, c.t1) != CUDA_SUCCESS) continue;
    timed.emplace_back(t, i);
  }
  std::sort(timed.begin(), timed.end());
  if (kLog) {
    std::fprintf(stderr, "[bminf cublasLt] igemm search: %d algorithm ids, %d checks, %zu valid, %zu timed in %.2f s\n", nIds, checks,
                 found.size(), timed.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    for (size_t j = 0; j < timed.size() && j < static_cast<size_t>(keep); j++) {
      std::fprintf(stderr, "[bminf cublasLt]   #%zu %s workspace %zu: %.2f us per call\n", j, AlgoText(lt, found[timed[j].second].algo).c_str(),
                   found[timed[j].second].workspaceSize, 1000.0 * timed[j].first / 3);
    }
  }
  std::vector<cublasLtMatmulHeuristicResult_t> best;
  for (size_t j = 0; j < timed.size() && j < static_cast<size_t>(keep); j++) best.push_back(found[timed[j].second]);
  return best;
}

// The cached plan for this GEMM (made, and for large shapes timed, on first use; the timing runs the
// GEMM on the given operands, which it may overwrite only in pc). Plans live until more than 4096
// shapes were seen; a Plan& stays valid until then (unordered_map nodes do not move).
Plan& GetPlan(Napi::Env env, State& s, Ctx& c, int compute, int scaleType, int opA, int opB, const Layout& la, const Layout& lb,
              const Layout& lc, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, const void* alpha, const void* beta, double macs,
              const char* what, bool alwaysTime) {
  PlanKey key = Key(compute, opA, opB, la, lb, lc, pa, pb, pc);
  auto it = c.plans.find(key);
  if (it == c.plans.end()) {
    if (c.plans.size() > 4096) {  // bounded: shapes that come and go (growing contexts)
      ClearGraphs(s, c);
      for (auto& e : c.plans) DestroyPlan(s, e.second);
      c.plans.clear();
    }
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
    std::vector<cublasLtMatmulHeuristicResult_t> resv(2 * kCandidates);
    std::memset(resv.data(), 0, resv.size() * sizeof(resv[0]));
    cublasLtMatmulHeuristicResult_t* res = resv.data();
    int n = 0;
    // The operands' alignment (the heuristic assumes 256 bytes otherwise); the preferences are shared,
    // set here for this plan only (plans are made on one thread).
    const std::array<uint32_t, 4> al = OperandAlignments(pa, pb, pc);
    const int alAttr[4] = {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (cublasLtMatmulPreference_t pr : {c.pref, c.pref0})
      for (int q = 0; q < 4; q++) s.lt.cublasLtMatmulPreferenceSetAttribute(pr, alAttr[q], &al[q], sizeof(al[q]));
    cublasStatus_t st = s.lt.cublasLtMatmulAlgoGetHeuristic(c.h, p.desc, p.a, p.b, p.c, p.c, c.pref, kCandidates, res, &n);
    if (st == CUBLAS_STATUS_SUCCESS && n > 0 && (alwaysTime || macs >= kTimeAboveMacs)) {
      int n0 = 0;
      if (s.lt.cublasLtMatmulAlgoGetHeuristic(c.h, p.desc, p.a, p.b, p.c, p.c, c.pref0, kCandidates / 2, res + n, &n0) == CUBLAS_STATUS_SUCCESS) n += n0;
    }
    if (st != CUBLAS_STATUS_SUCCESS || n == 0) {
      s.lt.cublasLtMatmulDescDestroy(p.desc);
      s.lt.cublasLtMatrixLayoutDestroy(p.a), s.lt.cublasLtMatrixLayoutDestroy(p.b), s.lt.cublasLtMatrixLayoutDestroy(p.c);
      ThrowError(env, std::string(what) + ": cublasLt has no algorithm for this shape and layout (" + LtError(s, st) + ", " + std::to_string(n) +
                          " candidates).", "BMINF_CUBLASLT_UNSUPPORTED");
    }
    // igemm with up to 64 rows and at least 16 M weights (where the kernel, not the launch, takes the
    // time): also the fastest configurations of an exhaustive search (SearchSkinny).
    // No timing while a step is being captured (it would synchronise the capturing stream): a step's
    // shapes are planned in its warm-up run before capture, so this only meets shapes new to it.
    const bool timing = !s.capturing;
    if (timing && g_ltSearch && compute == CUBLAS_COMPUTE_32I && la.order == CUBLASLT_ORDER_COL && lc.cols <= 64 && la.batch == 1 &&
        static_cast<double>(la.rows) * la.cols >= (1 << 24)) {
      resv.resize(n);
      for (const auto& r : SearchSkinny(s, c, p, pa, pb, pc, alpha, beta, 6)) resv.push_back(r);
      res = resv.data();
      n = static_cast<int>(resv.size());
    }
    int best = 0;
    if (timing && n > 1 && (alwaysTime || macs >= kTimeAboveMacs)) {
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
        // warm-up; a candidate that fails to launch is skipped. Each is waited for: a candidate whose
        // kernel faults leaves the context unusable (every later call fails alike), so the error names
        // it here, with the shape and the operands' addresses, instead of surfacing at a later call.
        usable[i] = res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= kWorkspaceBytes && run(i) == CUBLAS_STATUS_SUCCESS;
        const CUresult r = s.drv.cuStreamSynchronize(s.stream);
        if (r != CUDA_SUCCESS) {
          char where[160];
          std::snprintf(where, sizeof(where), "A 0x%llx B 0x%llx C 0x%llx (aligned to %u, %u, %u bytes)", static_cast<unsigned long long>(pa),
                        static_cast<unsigned long long>(pb), static_cast<unsigned long long>(pc), al[0], al[1], al[2]);
          ThrowError(env,
                     std::string(what) + ": cublasLt's candidate " + std::to_string(i) + " of " + std::to_string(n) + " (" + AlgoText(s.lt, res[i].algo) +
                         ", workspace " + std::to_string(res[i].workspaceSize) + ") faulted on m=" + std::to_string(lc.cols) + " n=" +
                         std::to_string(lc.rows) + " k=" + std::to_string(la.rows) + ", " + where + ": " + DriverError(r) +
                         ". This is a bug of cublasLt or of bminf's operands; please report it with this message.",
                     "BMINF_CUBLASLT");
        }
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
          if (kLog) std::fprintf(stderr, "[bminf cublasLt] %s m=%lu n=%lu k=%lld: round %d candidate %d (workspace %zu) %.2f us per call\n", what,
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
    if (kLog) std::fprintf(stderr, "[bminf cublasLt] %s: candidate %d of %d taken\n", what, best, n);
    p.algo = res[best].algo;
    p.workspace = res[best].workspaceSize;
    it = c.plans.emplace(key, p).first;
  }
  return it->second;
}

cublasStatus_t Run(State& s, Ctx& c, const Plan& p, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, const void* alpha, const void* beta) {
  return s.lt.cublasLtMatmul(c.h, p.desc, alpha, reinterpret_cast<void*>(pa), p.a, reinterpret_cast<void*>(pb), p.b, beta,
                             reinterpret_cast<void*>(pc), p.c, reinterpret_cast<void*>(pc), p.c, &p.algo, reinterpret_cast<void*>(c.ws),
                             kWorkspaceBytes, s.stream);
}

// The plan's cublasLt call captured into an executable graph (nullptr where that fails: the caller
// then calls cublasLt directly). The plan has run before (GetPlan times it), so cublasLt's lazy set-up
// is not captured.
CUgraphExec Capture(State& s, Ctx& c, const Plan& p, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, const void* alpha, const void* beta) {
  if (!s.drv.cuStreamBeginCapture) return nullptr;
  return CaptureGraph(s, [&] { return Run(s, c, p, pa, pb, pc, alpha, beta) == CUBLAS_STATUS_SUCCESS; });
}

// Runs D = alpha * op(A) * op(B) (+ 0 * C) with D = C, through the cached plan for this shape.
void Matmul(Napi::Env env, State& s, int compute, int scaleType, int opA, int opB, const Layout& la, const Layout& lb,
            const Layout& lc, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, const void* alpha, const void* beta, double macs,
            const char* what, bool alwaysTime = false) {
  Ctx& c = GetCtx(env, s);
  Plan& p = GetPlan(env, s, c, compute, scaleType, opA, opB, la, lb, lc, pa, pb, pc, alpha, beta, macs, what, alwaysTime);
  cublasStatus_t st = Run(s, c, p, pa, pb, pc, alpha, beta);
  if (st != CUBLAS_STATUS_SUCCESS) CheckLt(env, s, st, std::string(what) + ": cublasLtMatmul");
  if (SyncLaunches()) CheckLaunchDone(env, s, std::string(what) + " (" + AlgoText(s.lt, p.algo) + ")");
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

// C[m, n] (int32) = A[m, k] (int8) * B[n, k]ᵀ in cublasLt's "TN" form (sm_90 and later, or any
// architecture that has it): column-major Cᵀ (n x m) = op(B-buffer, T) * op(A-buffer, N).
void IgemmTn(Napi::Env env, State& s, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, int64_t m, int64_t n, int64_t k) {
  static const int32_t one = 1, zero = 0;
  Ctx& c = GetCtx(env, s);
  const int align = AlignClass(pa) | AlignClass(pb) << 10 | AlignClass(pc) << 20;
  auto& last = c.lastIgemm;
  Plan* p = last.plan;
  if (!p || last.m != m || last.n != n || last.k != k || last.align != align) {
    Layout lb{CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k};
    Layout la{CUDA_R_8I, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k};
    Layout lc{CUDA_R_32I, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n};
    // Linear layers have few, fixed shapes: their candidates are always timed.
    p = &GetPlan(env, s, c, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_T, CUBLAS_OP_N, lb, la, lc, pb, pa, pc, &one, &zero,
                 static_cast<double>(m) * n * k, "igemm", true);
    last.m = m, last.n = n, last.k = k, last.align = align, last.plan = p;
  }
  if (g_igemmMode == 1) return;
  if (g_igemmMode == 2 && s.drv.cuStreamBeginCapture && !s.capturing) {
    // Captured on an address triple's second use: operands that never repeat (a buffer at a new place
    // each call) then cost a map entry, not a capture and instantiation (tens of us) per call.
    GraphKey gk{p, pb, pa, pc};
    auto it = c.graphs.find(gk);
    if (it == c.graphs.end()) {
      if (c.graphs.size() >= 1024) {
        for (auto& g : c.graphs) if (g.second.exec) s.drv.cuGraphExecDestroy(g.second.exec);
        c.graphs.clear();
      }
      c.graphs.emplace(gk, Ctx::Graph{});
    } else {
      Ctx::Graph& g = it->second;
      if (!g.tried) g.exec = Capture(s, c, *p, pb, pa, pc, &one, &zero), g.tried = true;
      if (g.exec) {
        CheckDrv(env, s.drv.cuGraphLaunch(g.exec, s.stream), "cuGraphLaunch (igemm)");
        if (SyncLaunches()) CheckLaunchDone(env, s, "igemm (graph) m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
        return;
      }
    }
  }
  cublasStatus_t st = Run(s, c, *p, pb, pa, pc, &one, &zero);
  if (st != CUBLAS_STATUS_SUCCESS) CheckLt(env, s, st, "igemm: cublasLtMatmul");
  if (SyncLaunches()) CheckLaunchDone(env, s, "igemm m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " (" + AlgoText(s.lt, p->algo) + ")");
}

// The same product through BMInf's layouts (sm_75 to sm_89): A and C in COL32, B in COL4_4R2_8C
// (Turing) or COL32_2R_4R4 (Ampere, Ada), transformed to and from row-major around the matmul.
void IgemmCol32(Napi::Env env, State& s, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, int64_t m, int64_t n, int64_t k) {
  Ctx& c = GetCtx(env, s);
  int cc = s.ccMajor * 10 + s.ccMinor;
  int32_t one = 1, zero = 0;
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
  Matmul(env, s, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_N, CUBLAS_OP_T, tA, tB, tC, a32, b32, c32, &one, &zero,
         static_cast<double>(m) * n * k, "igemm (COL32)");
  Transform(env, s, c, c32, tC, pc, rowC);
}

// The checks shared by both entry points, then the product (or nothing for an empty one).
void IgemmChecked(Napi::Env env, State& s, CUdeviceptr pa, CUdeviceptr pb, CUdeviceptr pc, int64_t m, int64_t n, int64_t k, bool col32) {
  if (k % 4 || n % 4) ThrowRange(env, "igemm: k (" + std::to_string(k) + ") and n (" + std::to_string(n) + ") must be multiples of 4 for cublasLt's int8 kernels.");
  if (pa % 4 || pb % 4 || pc % 4) ThrowRange(env, "igemm: A, B and C must start at 4-byte aligned addresses.");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    CheckDrv(env, s.drv.cuMemsetD8Async(pc, 0, static_cast<size_t>(m * n * 4), s.stream), "cuMemsetD8Async");
    return;
  }
  if (col32) IgemmCol32(env, s, pa, pb, pc, m, n, k);
  else IgemmTn(env, s, pa, pb, pc, m, n, k);
}

bool AutoCol32(const State& s) {
  int cc = s.ccMajor * 10 + s.ccMinor;
  return cc >= 75 && cc < 90;
}

// igemm(A, B, C, m, n, k[, path]): C[m, n] (int32) = A[m, k] (int8) * B[n, k]ᵀ, all packed row-major;
// A, B and C are (region, byteOffset, byteLength) triples. path 'auto' picks by compute capability:
// sm_90 and later take the plain "TN" layouts that cublasLt requires there; sm_75 to sm_89 take
// BMInf's COL32 path; 'tn' and 'col32' force one (for tests).
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
  IgemmChecked(env, s, pa, pb, pc, m, n, k, path == "col32" || (path == "auto" && AutoCol32(s)));
  return env.Undefined();
}

// The bytes past `rows` rows of `rowBytes` that cublasLt's int8 kernels may touch: up to the next multiple of
// 256 rows, and 4 KiB. A candidate for 32 x 4096 x 10240 faulted with its operands near the end of their
// allocation (H100, 2026-12-05, NOTES.md). The same sum as ltSlackBytes in @bminf/cublaslt.
uint64_t LtSlackBytes(int64_t rows, int64_t rowBytes) {
  return static_cast<uint64_t>((rows + 255) / 256 * 256 - rows) * static_cast<uint64_t>(rowBytes) + 4096;
}

// An operand of igemmFast: (region, byteOffset) with `bytes` bytes from there inside the live region, and
// `slack` bytes more mapped after them (the region goes on), so that no kernel of cublasLt's reading whole
// tiles past the operand can fault.
CUdeviceptr Operand(const Napi::CallbackInfo& info, size_t i, const char* arg, uint64_t bytes, uint64_t slack) {
  Napi::Env env = info.Env();
  Region* r = Unwrap<Region>(info[i], kRegionTag, "device region", arg);
  if (r->freed) ThrowError(env, std::string("igemm: ") + arg + ": the device region was already freed.", "BMINF_DISPOSED");
  uint64_t off = static_cast<uint64_t>(ToIndex(info[i + 1], arg));
  if (off > r->size || bytes > r->size - off) {
    ThrowRange(env, std::string("igemm: ") + arg + ": bytes " + std::to_string(off) + ".." + std::to_string(off + bytes) +
                        " lie outside the device region of " + std::to_string(r->size) + " bytes.");
  }
  if (slack > r->size - off - bytes) {
    ThrowRange(env, std::string("igemm: ") + arg + ": the device region ends " + std::to_string(r->size - off - bytes) +
                        " bytes after the operand; cublasLt's int8 kernels may touch " + std::to_string(slack) +
                        " bytes past it (whole tiles of 256 rows, and 4 KiB). Allocate it with ltStorageBytes (@bminf/cublaslt), "
                        "or call igemm, which copies such operands.");
  }
  return r->ptr + off;
}

// igemmFast(regionA, offsetA, regionB, offsetB, regionC, offsetC, m, n, k): igemm's lean entry for the
// per-token calls of a linear layer (path 'auto'; every byte range still checked against its region, A's
// and C's with LtSlackBytes after them).
// The lengths follow from m, n and k, so the call reads 9 numbers and handles instead of 13 values and
// a string, and the shape's plan is found by comparing it with the last one.
Napi::Value IgemmFast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = Ready(env);
  if (info.Length() < 9) ThrowType(env, "igemmFast(regionA, offsetA, regionB, offsetB, regionC, offsetC, m, n, k): 9 arguments expected.");
  const int64_t kMax = 2147483647;
  int64_t m = ToInt(info[6], "m", 0, kMax), n = ToInt(info[7], "n", 0, kMax), k = ToInt(info[8], "k", 0, kMax);
  // the activations and the product need room for whole tiles after them; the weights are rows of their own
  CUdeviceptr pa = Operand(info, 0, "A", static_cast<uint64_t>(m * k), LtSlackBytes(m, k));
  CUdeviceptr pb = Operand(info, 2, "B", static_cast<uint64_t>(n * k), 0);
  CUdeviceptr pc = Operand(info, 4, "C", static_cast<uint64_t>(m * n) * 4, LtSlackBytes(m, n * 4));
  IgemmChecked(env, s, pa, pb, pc, m, n, k, AutoCol32(s));
  return env.Undefined();
}

// bench.igemmMode(mode): sets how igemm issues its call (see g_igemmMode) and returns the previous
// mode. Mode 2 falls back to mode 0 where the driver has no graph API.
Napi::Value IgemmMode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int prev = g_igemmMode;
  if (info.Length() > 0) g_igemmMode = static_cast<int>(ToInt(info[0], "mode", 0, 2));
  return Napi::Number::New(env, prev);
}

// bench.igemmSearch(on): turns igemm's algorithm search for skinny shapes on or off (see g_ltSearch), drops
// the plans made so far so that the next call of each shape picks again, and returns the previous
// setting. For benchmarks comparing both in one process.
Napi::Value IgemmSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool prev = g_ltSearch;
  if (info.Length() > 0) {
    if (!info[0].IsBoolean()) ThrowType(env, "igemmSearch: on must be a boolean.");
    g_ltSearch = info[0].As<Napi::Boolean>().Value();
    State& s = Ready(env);
    Ctx& c = g_ctx;
    if (c.ready) {
      s.drv.cuStreamSynchronize(s.stream);
      ClearGraphs(s, c);
      for (auto& kv : c.plans) {
        s.lt.cublasLtMatmulDescDestroy(kv.second.desc);
        s.lt.cublasLtMatrixLayoutDestroy(kv.second.a), s.lt.cublasLtMatrixLayoutDestroy(kv.second.b), s.lt.cublasLtMatrixLayoutDestroy(kv.second.c);
      }
      c.plans.clear();
    }
  }
  return Napi::Boolean::New(env, prev);
}

}  // namespace

void RegisterBlasLt(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("igemm", Napi::Function::New(env, Igemm));
  exports.Set("igemmFast", Napi::Function::New(env, IgemmFast));
}

void RegisterBlasLtBench(Napi::Env env, Napi::Object bench) {
  bench.Set("igemmMode", Napi::Function::New(env, IgemmMode));
  bench.Set("igemmSearch", Napi::Function::New(env, IgemmSearch));
}

}  // namespace bminf::cuda
