// Kernel variants checked against the kernels they stand in for, bit for bit, on the CPU (cuda-emu.h):
// the routes added while no GPU could run them, so that a slip in their indexing shows before a GPU
// session does. Each check runs both kernels on the same random inputs at awkward sizes and compares
// every output bit (and every cache row a kernel writes). Prints one line a check and "ok" or the first
// difference; exits non-zero if any differs.
//   node packages/kernels/dev/emu/build.mjs && /tmp/bminf-kernel-emu/kernel-checks
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cuda-emu.h"
#include "kernels-emu.inc"

namespace {

std::mt19937 rng(20261205);
int failures = 0;

std::vector<half_t> halves(size_t n, float scale = 1.f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<half_t> v(n);
  for (auto& h : v) h = emu_f2h(u(rng));
  return v;
}
std::vector<signed char> int8s(size_t n) {
  std::uniform_int_distribution<int> u(-127, 127);
  std::vector<signed char> v(n);
  for (auto& x : v) x = static_cast<signed char>(u(rng));
  return v;
}
std::vector<half_t> positive(size_t n, float lo, float span) {
  std::uniform_real_distribution<float> u(lo, lo + span);
  std::vector<half_t> v(n);
  for (auto& h : v) h = emu_f2h(u(rng));
  return v;
}

template <typename T>
void expectSame(const std::string& what, const std::vector<T>& a, const std::vector<T>& b) {
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] != b[i]) {
      std::printf("DIFFERS %s: first difference at %zu (%d vs %d)\n", what.c_str(), i, static_cast<int>(a[i]), static_cast<int>(b[i]));
      failures++;
      return;
    }
  }
  std::printf("ok %s\n", what.c_str());
}

// ---- decode attention: attend_cache_f16v8_ahead against attend_cache_f16v8 ----------------------------
using AttendKernel = void (*)(const half_t*, i64, const half_t*, const half_t*, const int*, const half_t*, int, half_t*, int, int, int, float,
                              const half_t*, const half_t*, i64, int, half_t*, half_t*, int, int, float*, int*);

void checkAttention() {
  struct Case {
    int B, H, D, S, splits;
    bool append, bias;
  };
  const Case cases[] = {
      {3, 2, 64, 37, 1, true, true},    {3, 2, 64, 37, 1, false, false}, {4, 2, 64, 600, 1, true, false}, {4, 2, 64, 600, 5, true, true},
      {2, 3, 80, 130, 2, true, true},   {2, 3, 80, 130, 1, false, true}, {5, 2, 128, 300, 3, true, false}, {2, 1, 256, 70, 1, true, true},
      {2, 4, 64, 512, 1, false, false}, {1, 4, 64, 512, 1, true, true},
  };
  for (const Case& c : cases) {
    const int width = c.H * c.D, chunk = (c.S + c.splits - 1) / c.splits;
    const i64 qStride = 3 * width;  // q | k | v of one token, as the decoder's qkv product lays them out
    const std::vector<half_t> qkv = halves(static_cast<size_t>(c.B) * qStride);
    const std::vector<half_t> keys0 = halves(static_cast<size_t>(c.B) * c.S * width), values0 = halves(static_cast<size_t>(c.B) * c.S * width);
    const std::vector<half_t> bias = halves(static_cast<size_t>(c.H) * c.S, 0.5f);
    std::vector<int> lengths(c.B);
    for (int b = 0; b < c.B; b++) lengths[b] = std::vector<int>{0, 1, c.S, c.S + 5, 1 + static_cast<int>(rng() % c.S)}[b % 5];
    std::vector<half_t> outs[2], keys[2], values[2];
    const AttendKernel kernels[2] = {attend_cache_f16v8, attend_cache_f16v8_ahead};
    for (int v = 0; v < 2; v++) {
      keys[v] = keys0, values[v] = values0;
      outs[v].assign(static_cast<size_t>(c.B) * width, 0x7e00);
      std::vector<float> work(static_cast<size_t>(c.B) * c.H * c.splits * (c.D + 2));
      std::vector<int> counters(static_cast<size_t>(c.B) * c.H, 0);
      const half_t* q = qkv.data();
      emu_launch(c.B * c.H * c.splits, 256, chunk * 4, [&] {
        kernels[v](q, qStride, keys[v].data(), values[v].data(), lengths.data(), bias.data(), c.bias, outs[v].data(), c.H, c.D, c.S,
                   1.f / std::sqrt(static_cast<float>(c.D)), q + width, q + 2 * width, qStride, c.append, keys[v].data(), values[v].data(),
                   c.splits, chunk, work.data(), counters.data());
      });
      for (int x : counters)
        if (x != 0) std::printf("DIFFERS attention: a split counter left at %d\n", x), failures++;
    }
    char tag[160];
    std::snprintf(tag, sizeof tag, "attend_cache_f16v8_ahead B %d H %d D %d S %d splits %d%s%s", c.B, c.H, c.D, c.S, c.splits,
                  c.append ? " append" : "", c.bias ? " bias" : "");
    expectSame(std::string(tag) + ": out", outs[1], outs[0]);
    expectSame(std::string(tag) + ": keys", keys[1], keys[0]);
    expectSame(std::string(tag) + ": values", values[1], values[0]);
  }
}

// ---- the GEMV linears: k splits, weights past L1, linear_mma against linear_gemv ------------------------
using LinearKernel = void (*)(const half_t*, const signed char*, const half_t*, const half_t*, int, const half_t*, int, half_t*, int, int, int,
                              const half_t*, float, const half_t*, int, int, int);

struct Form {
  const char* name;
  LinearKernel gemv[4];  // r1, r2, r4, r8
  LinearKernel mma;
  int norm;  // 0, 1 RMS, 2 LayerNorm
  bool gated, gelu;
};
#define FORM(NAME, SUF, NORM, GATED, GELU)                                                                                   \
  Form {                                                                                                                     \
    NAME, {linear_gemv##SUF##_r1, linear_gemv##SUF##_r2, linear_gemv##SUF##_r4, linear_gemv##SUF##_r8}, linear_mma##SUF, NORM, \
        GATED, GELU                                                                                                          \
  }

struct LinearData {
  int rows, m, k;
  std::vector<half_t> x, ws, bias, residual, normW, normB;
  std::vector<signed char> w;
};

// split: linear_gemv's ks or linear_mma's tiles a group; stream: the weights loaded past L1 (the same values)
std::vector<half_t> runLinear(LinearKernel kernel, const LinearData& d, const Form& f, unsigned grid, unsigned threads, size_t shared, int split,
                              int stream) {
  const int outWidth = f.gated ? d.m / 2 : d.m;
  std::vector<half_t> out(static_cast<size_t>(d.rows) * outWidth, 0x7e00);
  emu_launch(grid, threads, shared, [&] {
    kernel(d.x.data(), d.w.data(), d.ws.data(), d.bias.data(), 1, d.residual.data(), 1, out.data(), d.rows, d.m, d.k, d.normW.data(), 1e-5f,
           d.normB.data(), f.norm == 2, split, stream);
  });
  return out;
}

void checkLinears() {
  const Form forms[] = {
      FORM("plain", , 0, false, false),     FORM("norm", _norm, 1, false, false),        FORM("gated", _gated, 0, true, false),
      FORM("norm+gated", _norm_gated, 1, true, false), FORM("gelu", _gelu, 0, false, true), FORM("ln", _ln, 2, false, false),
      FORM("ln+gelu", _ln_gelu, 2, false, true),
  };
  const int k = 448, m = 592;  // 7 steps of 64, 37 tiles of 16 (f = 296: whole 8-output chunks gated)
  for (int rows : {1, 3, 8}) {
    LinearData d{rows, m, k, halves(static_cast<size_t>(rows) * k, 3.f), positive(m, 0.001f, 0.01f), halves(m, 0.5f), halves(static_cast<size_t>(rows) * m, 4.f),
                 positive(k, 0.5f, 1.f), halves(k, 0.5f), int8s(static_cast<size_t>(m) * k)};
    const int R = rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : 8, ri = R == 1 ? 0 : R == 2 ? 1 : R == 4 ? 2 : 3;
    for (const Form& f : forms) {
      char tag[120];
      // linear_gemv: every k split (integer sums: the same bits), a grid of 5 blocks (rounds over the units)
      const auto dp4a = runLinear(f.gemv[ri], d, f, 5, 256, static_cast<size_t>(R) * k, 1, 0);
      for (int ks : {2, 8}) {
        std::snprintf(tag, sizeof tag, "linear_gemv %s rows %d ks %d%s", f.name, rows, ks, ks == 8 ? " weights past L1" : "");
        expectSame(tag, runLinear(f.gemv[ri], d, f, 5, 256, static_cast<size_t>(R) * k, ks, ks == 8), dp4a);
      }
      if (rows == 1) continue;  // linear_mma takes 2-8 rows in the product
      // linear_mma, 3 blocks and 2 tiles a group; 7 blocks and 1 tile a group with the weights past L1
      const auto mma = runLinear(f.mma, d, f, 3, 512, 8 * k + 2 * 16 * 128 * 4, 2, 0);
      if (!f.norm) {
        std::snprintf(tag, sizeof tag, "linear_mma %s rows %d: against linear_gemv", f.name, rows);
        expectSame(tag, mma, dp4a);  // integer sums: the emulated mma.sync checked against dp4a
      }
      std::snprintf(tag, sizeof tag, "linear_mma %s rows %d: 1 tile a group, weights past L1", f.name, rows);
      expectSame(tag, runLinear(f.mma, d, f, 7, 512, 8 * k + 2 * 16 * 128 * 4, 1, 1), mma);
    }
  }
}

// ---- batched decoding's int8 linear: quantize_rows_gemv + linear_mma_q against linear_gemv_r1 row by row ----
// A sequence decoding in a batch of 2-32 must get the bits it gets alone (one row: linear_gemv_*_r1), in
// every form, the norms included.
using LinearQKernel = void (*)(const signed char*, const half_t*, const signed char*, const half_t*, const half_t*, int, const half_t*, int,
                               half_t*, int, int, int, int);
using QuantizeGemvKernel = void (*)(const half_t*, signed char*, half_t*, int, const half_t*, float, const half_t*, int);

// quick: two row counts (kernels of 1 and of 4 groups of 8 rows), three forms, one grid (CI's share)
void checkLinearQ(bool quick) {
  struct QForm {
    const char* name;
    LinearKernel gemv1;
    LinearQKernel b1, b2, b4;
    QuantizeGemvKernel quantize;
    int norm;
    bool gated, inQuick;
  };
#define QFORM(NAME, GSUF, QSUF, QUANT, NORM, GATED, QUICK)                                                              \
  QForm {                                                                                                               \
    NAME, linear_gemv##GSUF##_r1, linear_mma_q##QSUF##_b1, linear_mma_q##QSUF##_b2, linear_mma_q##QSUF##_b4, QUANT, NORM, \
        GATED, QUICK                                                                                                    \
  }
  const QForm forms[] = {
      QFORM("plain", , , quantize_rows_gemv, 0, false, true),
      QFORM("gated", _gated, _gated, quantize_rows_gemv, 0, true, false),
      QFORM("gelu", _gelu, _gelu, quantize_rows_gemv, 0, false, false),
      QFORM("norm", _norm, , quantize_rows_gemv_norm, 1, false, false),
      QFORM("norm+gated", _norm_gated, _gated, quantize_rows_gemv_norm, 1, true, true),
      QFORM("ln+gelu", _ln_gelu, _gelu, quantize_rows_gemv_ln, 2, false, true),
      QFORM("ln", _ln, , quantize_rows_gemv_ln, 2, false, false),
  };
#undef QFORM
  const int k = quick ? 448 : 1216, m = 608;  // 7 or 19 steps of 64 (uneven over 16 warps), 19 groups of 32 rows (gated f = 304)
  for (int rows : quick ? std::vector<int>{5, 17} : std::vector<int>{2, 8, 9, 16, 17, 30, 32}) {
    LinearData d{rows, m, k, halves(static_cast<size_t>(rows) * k, 3.f), positive(m, 0.001f, 0.01f), halves(m, 0.5f),
                 halves(static_cast<size_t>(rows) * m, 4.f), positive(k, 0.5f, 1.f), halves(k, 0.5f), int8s(static_cast<size_t>(m) * k)};
    for (const QForm& f : forms) {
      if (quick && !f.inQuick) continue;
      const int outWidth = f.gated ? m / 2 : m, NB = rows <= 8 ? 1 : rows <= 16 ? 2 : 4;
      const Form asForm{f.name, {f.gemv1, nullptr, nullptr, nullptr}, nullptr, f.norm, f.gated, false};
      // the reference: each row alone through linear_gemv_*_r1
      std::vector<half_t> want;
      for (int r = 0; r < rows; r++) {
        LinearData s{1, m, k, {d.x.begin() + static_cast<size_t>(r) * k, d.x.begin() + static_cast<size_t>(r + 1) * k}, d.ws, d.bias,
                     {d.residual.begin() + static_cast<size_t>(r) * outWidth, d.residual.begin() + static_cast<size_t>(r + 1) * outWidth},
                     d.normW, d.normB, d.w};
        const auto part = runLinear(f.gemv1, s, asForm, 5, 256, static_cast<size_t>(k), 1, 0);
        want.insert(want.end(), part.begin(), part.end());
      }
      std::vector<signed char> xq(static_cast<size_t>(rows) * k);
      std::vector<half_t> xs(rows);
      emu_launch(rows, 256, 0, [&] { f.quantize(d.x.data(), xq.data(), xs.data(), k, d.normW.data(), 1e-5f, d.normB.data(), f.norm == 2); });
      for (unsigned grid : {3u, 19u}) {
        if (quick && grid == 19u) continue;
        std::vector<half_t> out(static_cast<size_t>(rows) * outWidth, 0x7e00);
        emu_launch(grid, 512, static_cast<size_t>(2 * 16 * 2 * NB * 512), [&] {
          (NB == 1 ? f.b1 : NB == 2 ? f.b2 : f.b4)(xq.data(), xs.data(), d.w.data(), d.ws.data(), d.bias.data(), 1, d.residual.data(), 1, out.data(),
                                                   rows, m, k, grid == 19);
        });
        char tag[120];
        std::snprintf(tag, sizeof tag, "linear_mma_q %s rows %d grid %u: each row as alone", f.name, rows, grid);
        expectSame(tag, out, want);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "attention") checkAttention();
  if (only.empty() || only == "linear") checkLinears();
  if (only.empty() || only == "linear-q") checkLinearQ(false);
  if (only == "linear-q-quick") checkLinearQ(true);
  std::printf("%s: %d check(s) differ\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
