// The kernel variants that were measured and not chosen, runnable beside the product's kernels for
// benchmarks and bit-exactness tests (the product never loads this file):
// - quantize 'block' and 'pipelined' (quantize_variants.cu here, compiled with NVRTC on first use);
// - dequantize 'vec4': the 4-column kernel where the product takes the 8-column one (same bits).
// 'fast' runs the product's quantizeRowsInto, so a benchmark can compare all three in one loop.
import { readFileSync } from 'node:fs';

/** The float16 quantize kernels: 'fast' is the product's, 'block' and 'pipelined' live here. */
export const QUANTIZE_VARIANTS = ['fast', 'block', 'pipelined'];

const up32 = (n) => Math.max(32, Math.min(1024, Math.ceil(n / 32) * 32));
const source = (url) => `// ---- ${url.pathname.split('/').pop()}\n${readFileSync(url, 'utf8')}`;

/** Kernel variants on a CudaBackend (`gpu`), compiled for its GPU on the first call. */
export function kernelVariants(gpu) {
  const native = gpu.nativeCuda;
  let module = null;
  const fns = new Map();
  const fn = (name) => {
    if (!module) {
      const src = [new URL('../../cuda/prelude.cuh', import.meta.url), new URL('../../cuda/quantize.cu', import.meta.url), new URL('./quantize_variants.cu', import.meta.url)]
        .map(source)
        .join('\n');
      const [major, minor] = gpu.info.computeCapability ?? [0, 0];
      // The product's options (compiler.ts): no fast math, so the variants stay bit-exact.
      const out = native.compile(src, 'bminf_dev_variants.cu', [`--gpu-architecture=sm_${major}${minor}`, '--std=c++17', '-DNDEBUG']);
      if (!out.ok) throw new Error(`NVRTC could not compile the dev kernel variants: ${out.error}\n${out.log}`);
      module = native.loadModule(out.cubin ?? out.ptx);
    }
    if (!fns.has(name)) fns.set(name, native.getFunction(module, name));
    return fns.get(name);
  };
  const flat = (ts) => ts.flatMap((t) => {
    const s = gpu.span(t);
    return [s.region, s.byteOffset, s.byteLength];
  });
  return {
    /**
     * quantizeRows of float16 x [rows, cols] into packed values (int8) and scales (float16) with the
     * given variant. 'block' and 'pipelined' need cols % 8 == 0, cols ≤ 65536 and x 16-byte aligned, as
     * the product's fast path does; elsewhere the product's generic kernel runs.
     */
    quantizeRowsInto(variant, x, values, scales) {
      const [rows, cols] = x.shape;
      const nvec = cols / 8;
      const fits = x.dtype === 'float16' && x.isContiguous() && cols > 0 && cols % 8 === 0 && gpu.span(x).byteOffset % 16 === 0 && gpu.span(values).byteOffset % 8 === 0;
      if (variant === 'fast' || !fits || rows === 0) return gpu.quantizeRowsInto(x, values, scales);
      if (variant === 'pipelined' && nvec <= 8 * 256) {
        // A persistent grid sized to what stays resident (registers per thread from ptxas, with room).
        const items = [1, 2, 4, 8].find((i) => i * 256 >= nvec);
        const threads = up32(Math.ceil(nvec / items));
        const regs = { 1: 40, 2: 48, 4: 72, 8: 104 }[items];
        const perSM = Math.max(1, Math.min(32, Math.floor(2048 / threads), Math.floor(65536 / (regs * threads))));
        const grid = Math.min(rows, (gpu.info.multiprocessors ?? 1) * perSM);
        native.launch(fn(`quantize_f16_pipe${items}`), [grid, 1, 1], [threads, 1, 1], 0, 'pppii', [...flat([x, values, scales]), rows, cols]);
      } else if (nvec <= 8 * 1024) {
        // 'block', and 'pipelined' for rows too long for its registers (as the backend ran them).
        const items = [1, 2, 4, 8].find((i) => i * 128 >= nvec) ?? 8;
        native.launch(fn(`quantize_f16_vec${items}`), [rows, 1, 1], [up32(Math.ceil(nvec / items)), 1, 1], 0, 'pppii', [...flat([x, values, scales]), rows, cols]);
      } else {
        gpu.quantizeRowsInto(x, values, scales); // the generic kernel, as for 'fast'
      }
    },
    /** quantizeRows with the given variant, into new tensors. */
    quantizeRows(variant, x) {
      const values = gpu.empty(x.shape, 'int8');
      const scales = gpu.empty([x.shape[0]], 'float16');
      this.quantizeRowsInto(variant, x, values, scales);
      return { values, scales };
    },
    /**
     * dequantize of packed int32 acc [m, n] with the 4-column kernel (where n % 4 == 0 and acc is
     * 16-byte aligned; else the one-column kernel), as the product did before the 8-column kernel.
     */
    dequantizeVec4(acc, rowScale, colScale, { dtype, bias }) {
      const [m, n] = acc.shape;
      const out = gpu.empty([m, n], dtype);
      if (m * n === 0) return out;
      const vec = n % 4 === 0 && gpu.span(acc).byteOffset % 16 === 0;
      const total = vec ? (m * n) / 4 : m * n;
      const name = `dequantize${vec ? '4' : ''}_${dtype === 'float16' ? 'f16' : 'f32'}`;
      const grid = Math.max(1, Math.min(Math.ceil(total / 256), 2 ** 31 - 1));
      native.launch(native.getFunction(gpu.kernels.module, name), [grid, 1, 1], [256, 1, 1], 0, 'ppppipii', [
        ...flat([acc, rowScale, colScale, bias ?? acc]), bias ? 1 : 0, ...flat([out]), m, n,
      ]);
      return out;
    },
  };
}
