// CPU GEMM: the int8 GEMM of BMInf's linear layers (int8 x int8 -> int32, C = A·Bᵀ) on each kernel
// path this CPU has, against the float32 GEMM in the same layout (A [m, k] times a weight [n, k]
// transposed) and against the measured AVX-512 VNNI peak (vnni-peak.c), square shapes, one run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend, createCpuBackend } from '@bminf/kernels';

/**
 * The VNNI peak in GOP/s for `threads` threads: vnni-peak.c built with the system's C compiler and
 * run 5 times, the best kept; null without a compiler or VNNI. (The GEMMs are timed by wall clock,
 * so on a busy machine their share of the peak reads low.)
 */
function vnniPeak(threads) {
  const dir = mkdtempSync(join(tmpdir(), 'bminf-vnni-peak-'));
  try {
    const exe = join(dir, 'vnni-peak');
    execFileSync('cc', ['-O2', '-pthread', join(dirname(fileURLToPath(import.meta.url)), '..', 'vnni-peak.c'), '-o', exe], { stdio: 'ignore' });
    let best = 0;
    for (let i = 0; i < 5; i++) best = Math.max(best, Number(execFileSync(exe, [String(threads)], { encoding: 'utf8' })));
    return best;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Seconds per call: the fastest of the calls made in `minSeconds` (at least 3) after one warm-up. The
 * minimum, not the mean: the machine may be shared, and interference only ever adds time.
 */
function time(fn, minSeconds) {
  fn();
  let best = Infinity;
  let n = 0;
  const t0 = performance.now();
  do {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
    n++;
  } while (n < 3 || performance.now() - t0 < minSeconds * 1000);
  return best / 1000;
}

export default {
  title: 'CPU GEMM',
  async run() {
    const b = createCpuBackend();
    const info = CpuBackend.kernelInfo();
    const paths = info.isas.filter((i) => i !== 'plain');
    const peak = info.isas.includes('avx512') ? vnniPeak(info.threads) : null;
    const rows = [];
    // m x n x k: the square shapes, and one decode step (a single row against a 4096² weight).
    for (const [m, n, k] of [[256, 256, 256], [1024, 1024, 1024], [4096, 4096, 4096], [1, 4096, 4096]]) {
      const minSeconds = m * n * k >= 4096 ** 3 ? 0 : 1; // three timed calls at 4096³ (about a second each at most)
      const ops = 2 * m * n * k;
      const a8 = b.upload(Int8Array.from({ length: m * k }, (_, i) => ((i * 7919) % 255) - 127), [m, k]);
      const w8 = b.upload(Int8Array.from({ length: n * k }, (_, i) => ((i * 104729) % 255) - 127), [n, k]);
      const int8 = {};
      for (const isa of paths) {
        CpuBackend.setIsa(isa);
        int8[isa] = ops / time(() => b.igemm(a8, w8).dispose(), minSeconds) / 1e9;
      }
      CpuBackend.setIsa(null);
      a8.dispose();
      w8.dispose();
      const a32 = b.upload(Float32Array.from({ length: m * k }, (_, i) => ((i % 97) - 48) / 48), [m, k]);
      const w32 = b.upload(Float32Array.from({ length: n * k }, (_, i) => ((i % 89) - 44) / 44), [n, k]);
      const fp32 = ops / time(() => b.gemm(a32, w32, { transB: true }).dispose(), minSeconds) / 1e9;
      a32.dispose();
      w32.dispose();
      const best = int8[info.isa];
      rows.push([
        m === n && n === k ? `${m}³` : `${m} x ${n} x ${k} (decode)`,
        ...paths.map((isa) => int8[isa]),
        fp32,
        best / fp32,
        peak ? `${((100 * best) / peak).toFixed(0)} %` : 'n/a',
      ]);
    }
    b.dispose();
    return {
      columns: ['m x n x k', ...paths.map((isa) => `int8 GOP/s (${isa})`), 'fp32 GFLOP/s', `int8 (${info.isa}) / fp32`, `int8 (${info.isa}) ÷ VNNI peak`],
      rows,
      notes:
        `Both as a linear layer computes them: C = A·Bᵀ with A [m, k] and B [n, k] row-major; int8 ` +
        `accumulates in int32 (exact), fp32 in float32. int8 on each kernel path this CPU has (forced with CpuBackend.setIsa; ` +
        `the default is ${info.isa}), fp32 on the default path (AVX2 kernels; the packed micro-kernel on zmm where the path is avx512), ${info.threads} threads. Ops = 2mnk; output allocation included (pooled). ` +
        `Each figure is the fastest call of those made in about a second (three at 4096³): the machine may be shared. ` +
        (peak
          ? `VNNI peak: ${peak.toFixed(0)} GOP/s for ${info.threads} threads, measured by \`tooling/bench/vnni-peak.c\` (each thread runs ` +
            `12 independent register-only vpdpbusd zmm per loop iteration, 64 multiply-adds = 128 ops each, timed by its own CPU time ` +
            `so that other processes' time does not count; the sum over threads, best of 5 runs), ` +
            `i.e. about ${(peak / info.threads / 128).toFixed(1)} vpdpbusd zmm per ns per thread.`
          : 'No VNNI peak: this CPU lacks AVX-512 VNNI or no C compiler was found.'),
    };
  },
};
