// The output head's float16 GEMV candidate (head_gemv.cu) against the product's gemm (cublasLt) at the
// heads' shapes and 1-8 rows, timed alike in one run (CUDA events, median of 5, gpu-timing.mjs), with
// the bandwidth each reaches (weight bytes ÷ time). Run on the GPU machine after `pnpm build`:
//   node packages/kernels/dev/cuda/bench-head-gemv.mjs
import { tidy } from '@bminf/core';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randHalf } from '../../../../tooling/bench/gpu-timing.mjs';
import { headGemvKernel } from './head-gemv.mjs';

const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 4 * 2 ** 30 });
const n = gpu.nativeCuda;
const headGemv = headGemvKernel(gpu);
const timed = (fn) => eventTimed(n, () => tidy(fn).dispose(), { syncEachRun: true });
for (const [name, rowsOut, k] of [['CPM-2 head', 26240, 4096], ['CPM-1 head', 30000, 2560]]) {
  const w = gpu.upload(randHalf(rowsOut * k, 5), [rowsOut, k]);
  for (const rows of [1, 2, 4, 8]) {
    const x = gpu.upload(randHalf(rows * k, 6), [rows, k]);
    const ours = timed(() => headGemv(x, w));
    const lt = timed(() => gpu.gemm(x, w, { transB: true }));
    const tbs = (s) => ((2 * rowsOut * k) / s / 1e12).toFixed(2);
    console.log(`${name} [${rowsOut} x ${k}], ${rows} rows: head_gemv ${(ours.s * 1e6).toFixed(1)} us (${tbs(ours.s)} TB/s), cublasLt ${(lt.s * 1e6).toFixed(1)} us (${tbs(lt.s)} TB/s), x${(lt.s / ours.s).toFixed(2)}`);
    x.dispose();
  }
  w.dispose();
}
gpu.dispose();
