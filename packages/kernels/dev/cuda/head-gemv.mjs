// The dev candidate for the output head's float16 product at 1-8 rows (head_gemv.cu), launched beside
// the product's kernels for its test (head-gemv.test.ts) and benchmark (bench-head-gemv.mjs). The
// product never loads this file; if the benchmark shows it beating cublasLt at the heads' shapes, the
// kernel moves to packages/kernels/cuda and CudaBackend.gemm routes small-m products with transposed B to it.
import { readFileSync } from 'node:fs';

const source = (url) => `// ---- ${url.pathname.split('/').pop()}\n${readFileSync(url, 'utf8')}`;

/** headGemv(x [rows, k] float16, w [n, k] float16) -> x · wᵀ [rows, n] float16, on a CudaBackend `gpu`. */
export function headGemvKernel(gpu) {
  const native = gpu.nativeCuda;
  let module = null;
  const fn = (name) => {
    if (!module) {
      const src = [new URL('../../cuda/prelude.cuh', import.meta.url), new URL('./head_gemv.cu', import.meta.url)].map(source).join('\n');
      const [major, minor] = gpu.info.computeCapability ?? [0, 0];
      const out = native.compile(src, 'bminf_dev_head_gemv.cu', [`--gpu-architecture=sm_${major}${minor}`, '--std=c++17', '-DNDEBUG']);
      if (!out.ok) throw new Error(`NVRTC could not compile head_gemv.cu: ${out.error}\n${out.log}`);
      module = native.loadModule(out.cubin ?? out.ptx);
    }
    return native.getFunction(module, name);
  };
  const opted = new Set();
  return (x, w) => {
    const [rows, k] = x.shape;
    const n = w.shape[0];
    if (x.dtype !== 'float16' || w.dtype !== 'float16' || w.shape[1] !== k || rows < 1 || rows > 8 || k % 8 !== 0) {
      throw new Error(`headGemv: float16 x [1-8, k] and w [n, k] with k % 8 == 0, not ${x.shape} and ${w.shape}`);
    }
    const R = rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : 8;
    const name = `head_gemv_f16_r${R}`;
    const f = fn(name);
    const shared = R * k * 2;
    if (shared > 47 * 1024 && !opted.has(`${name}:${shared}`)) {
      native.setMaxDynamicShared(f, shared);
      opted.add(`${name}:${shared}`);
    }
    const out = gpu.empty([rows, n], 'float16');
    const span = (t) => {
      const s = gpu.span(t);
      return [s.region, s.byteOffset, s.byteLength];
    };
    // 8 warps a block, 2 weight rows a warp per pass; blocks beyond what stays resident would only queue
    const grid = Math.max(1, Math.min(Math.ceil(n / 16), (gpu.info.multiprocessors ?? 1) * 4));
    native.launch(f, [grid, 1, 1], [256, 1, 1], shared, 'pppiii', [...span(x), ...span(w), ...span(out), rows, n, k]);
    return out;
  };
}
