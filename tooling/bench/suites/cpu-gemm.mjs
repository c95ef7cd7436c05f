// CPU GEMM: the int8 GEMM of BMInf's linear layers (int8 x int8 -> int32, C = A·Bᵀ) against the
// float32 GEMM in the same layout (A [m, k] times a weight [n, k] transposed), square shapes, one run.
import { CpuBackend, createCpuBackend } from '@bminf/kernels';

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
    const rows = [];
    // m x n x k: the three square shapes, and one decode step (a single row against a 4096² weight).
    for (const [m, n, k] of [[256, 256, 256], [1024, 1024, 1024], [4096, 4096, 4096], [1, 4096, 4096]]) {
      const minSeconds = m * n * k >= 4096 ** 3 ? 0 : 1; // three timed calls at 4096³ (about a second each)
      const a8 = b.upload(Int8Array.from({ length: m * k }, (_, i) => ((i * 7919) % 255) - 127), [m, k]);
      const w8 = b.upload(Int8Array.from({ length: n * k }, (_, i) => ((i * 104729) % 255) - 127), [n, k]);
      const tInt8 = time(() => b.igemm(a8, w8).dispose(), minSeconds);
      a8.dispose();
      w8.dispose();
      const a32 = b.upload(Float32Array.from({ length: m * k }, (_, i) => ((i % 97) - 48) / 48), [m, k]);
      const w32 = b.upload(Float32Array.from({ length: n * k }, (_, i) => ((i % 89) - 44) / 44), [n, k]);
      const tF32 = time(() => b.gemm(a32, w32, { transB: true }).dispose(), minSeconds);
      a32.dispose();
      w32.dispose();
      const ops = 2 * m * n * k;
      const int8 = ops / tInt8 / 1e9;
      const fp32 = ops / tF32 / 1e9;
      rows.push([m === n && n === k ? `${m}³` : `${m} x ${n} x ${k} (decode)`, int8, fp32, int8 / fp32]);
    }
    b.dispose();
    return {
      columns: ['m x n x k', 'int8 GOP/s', 'fp32 GFLOP/s', 'int8 / fp32'],
      rows,
      notes:
        `Both as a linear layer computes them: C = A·Bᵀ with A [m, k] and B [n, k] row-major; int8 ` +
        `accumulates in int32 (exact), fp32 in float32. ${info.usingAvx2 ? 'AVX2 kernels' : 'plain C++ kernels'}, ` +
        `${info.threads} threads. Ops = 2mnk; output allocation included (pooled). Each figure is the fastest ` +
        `call of those made in about a second (three at 4096³): the machine may be shared.`,
    };
  },
};
