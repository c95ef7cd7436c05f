// GPU kernels: bminf's int8 GEMM (cublasLt, heuristic search, 32 MiB workspace), its quantize kernel and
// its whole int8 Linear (float16 in and out: as the Linear layer runs it, on sm_90 with the dequantize
// fused into bminf's Hopper GEMM, and as quantize + igemm + dequantize), against PyTorch on the same
// GPU in the same run (tooling/bench/torch_bench.py: torch._int_mm, float16 matmul and F.linear, and a
// device-to-device copy). Both sides are timed with CUDA events around many back-to-back calls after
// warm-up (median of 5). Shapes: m = output features, k = input features, n = tokens.
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randBytes, randHalf, runTorchBench } from '../gpu-timing.mjs';

/** Seconds per call of fn (see eventTimed). */
const timed = (n, fn) => eventTimed(n, fn).s;


export default {
  title: 'GPU kernels (bminf vs PyTorch)',
  async run() {
    const avail = cudaAvailability();
    if (!avail.available) throw new Error(`CUDA is unavailable: ${avail.reason}`);
    // PyTorch first, in its own process, so that each side has the GPU's memory to itself.
    const torch = runTorchBench();
    console.error(formatCudaInfo());
    if (torch.error) console.error(`bench: ${torch.error}`);
    const gpu = createCudaBackend({ memoryLimit: 16 * 2 ** 30 });
    const n = gpu.nativeCuda;
    const rows = [];
    const tFmt = (x) => (x === undefined ? 'n/a' : x);

    // Large float16 GEMMs for half a second, so that the first shapes are not timed while the GPU's
    // clocks are still rising from idle (torch_bench.py does the same before its first shape).
    {
      const x = gpu.upload(randHalf(4096 * 4096), [4096, 4096]);
      const t0 = performance.now();
      while (performance.now() - t0 < 500) {
        for (let i = 0; i < 10; i++) gpu.gemm(x, x).dispose();
        gpu.synchronize();
      }
      x.dispose();
    }

    // ---- igemm -------------------------------------------------------------------------------------
    // CPM-2's shapes first, 8192³ last (as in torch_bench.py), so that the long square run does not
    // heat the GPU ahead of the short ones.
    const shapes = [];
    for (const m of [4096, 10240]) for (const k of [4096, 10240]) for (const t of [1, 16, 64, 256, 1024, 4096]) shapes.push([m, k, t]);
    shapes.push([8192, 8192, 8192]);
    for (const [m, k, tok] of shapes) {
      // The backend's op into a preallocated output (igemmInto), as torch._int_mm(out=) is timed on the
      // PyTorch side: padding, GEMV for n <= 8, cublasLt's plan cache.
      const a = gpu.upload(randBytes(tok * k), [tok, k]);
      const w = gpu.upload(randBytes(m * k), [m, k]);
      const c = gpu.empty([tok, m], 'int32');
      const s = timed(n, () => gpu.igemmInto(a, w, c));
      const ops = 2 * m * k * tok;
      const ref = torch.igemm?.find((r) => r.m === m && r.k === k && r.n === tok);
      const ours = ops / s / 1e12;
      const theirs = ref ? ops / ref.int_mm_s / 1e12 : undefined;
      const fp16 = ref ? ops / ref.fp16_s / 1e12 : undefined;
      // Which kernel the backend's per-shape choice took (igemmKernel 'auto': cublasLt or a Hopper tile).
      const pick = gpu.tuner.igemmChoice.get(`${tok}:${m}:${k}`);
      rows.push(['igemm', `${m}×${k}, n=${tok}${pick && pick !== 'cublaslt' ? ` (sm90 '${pick}')` : ''}`, ours, tFmt(theirs), 'TOPS', theirs ? ours / theirs : 'n/a', m === 8192 ? '≥ 1.2×' : '≥ 1.0×', tFmt(fp16)]);
      a.dispose();
      w.dispose();
      c.dispose();
    }

    // ---- quantize vs device-to-device copy --------------------------------------------------------
    {
      // A copy of `bytes` bytes (bytes read + bytes written, as bandwidth is counted), timed the same way.
      const copyGBps = (bytes) => {
        const src = gpu.empty([bytes], 'int8');
        const dst = gpu.empty([bytes], 'int8');
        const ss = gpu.span(src), sd = gpu.span(dst);
        const t = timed(n, () => n.copy(ss.region, ss.byteOffset, ss.byteLength, sd.region, sd.byteOffset, sd.byteLength));
        src.dispose();
        dst.dispose();
        return (2 * bytes) / t / 1e9;
      };
      const big = copyGBps(256 * 2 ** 20);
      for (const [r, cols] of [[16384, 4096], [4096, 10240], [4096, 4096]]) {
        const x = gpu.upload(randHalf(r * cols), [r, cols]);
        const values = gpu.empty([r, cols], 'int8');
        const scales = gpu.empty([r], 'float16');
        const moved = r * cols * 3 + r * 2; // read float16, write int8 and the scales
        const same = copyGBps(Math.round(moved / 2)); // a copy moving as many bytes (read + written)
        for (const variant of ['fast']) { // the product's kernel (the others: packages/kernels/dev/cuda)
          // The kernel into preallocated outputs (what a copy of the same bytes is compared with).
          const t = timed(n, () => gpu.quantizeRowsInto(x, values, scales));
          const gbps = moved / t / 1e9;
          rows.push([`quantize (${variant})`, `${r}×${cols} f16`, gbps, same, 'GB/s (read+written) vs a copy of as many bytes', gbps / same, '≥ 0.8× copy', '']);
          rows.push(['', '', gbps, big, 'GB/s vs a 256 MiB copy', gbps / big, '', '']);
        }
        values.dispose();
        scales.dispose();
        x.dispose();
      }
      if (torch.copy) rows.push(['copy (PyTorch)', '256 MiB', big, torch.copy.GBps, 'GB/s', big / torch.copy.GBps, '', '']);
    }

    // ---- the int8 Linear, float16 in and out --------------------------------------------------------
    // As the Linear layer runs it (backend.linearInt8: on sm_90 quantize + the Hopper kernel with the
    // dequantize in its epilogue), and as three calls (quantize, cublasLt igemm, dequantize).
    const fused = gpu.sm90.ready();
    for (const [m, k, tok] of [[4096, 4096, 4096], [10240, 4096, 4096], [4096, 10240, 4096]]) {
      const x = gpu.upload(randHalf(tok * k), [tok, k]);
      const w = gpu.upload(randBytes(m * k), [m, k]);
      const ws = gpu.upload(randHalf(m), [m]);
      const ref = torch.linear?.find((r) => r.m === m && r.k === k && r.n === tok);
      for (const mode of fused ? ['layer', 'calls'] : ['calls']) {
        gpu.routes.fusedLinear = mode === 'layer';
        const t = timed(n, () => gpu.linearInt8(x, w, ws, { dtype: 'float16' }).dispose());
        // the layer times the fused kernel against the three calls once per shape and keeps the faster
        const choice = gpu.tuner.fusedChoice.get(`${Math.ceil(tok / 256)}:${m}:${k}:0`);
        const label = mode === 'layer' ? `int8 Linear (layer: ${choice === false ? '3 calls' : 'fused kernel'})` : 'int8 Linear (3 calls)';
        rows.push([label, `${m}×${k}, n=${tok}`, t * 1e3, tFmt(ref ? ref.fp16_linear_s * 1e3 : undefined), 'ms (lower is better)', ref ? ref.fp16_linear_s / t : 'n/a', mode === 'layer' || !fused ? '≥ 1.3× fp16' : '', '']);
      }
      gpu.routes.fusedLinear = true;
      x.dispose();
      w.dispose();
      ws.dispose();
    }
    gpu.dispose();
    return {
      columns: ['kernel', 'shape', 'bminf', 'PyTorch', 'unit', 'speed-up (bminf ÷ PyTorch)', 'target', 'PyTorch fp16 matmul TFLOP/s'],
      rows,
      notes:
        `PyTorch ${torch.torch ?? '(not run)'} on ${torch.device ?? '?'}; ${torch.error ?? 'same GPU, same run'}. igemm: bminf's cublasLt int8 GEMM (heuristic candidates timed in 3 rounds once per shape, 32 MiB workspace, ` +
        'n padded to a multiple of 4; from 128 to 1024 rows timed once per shape against bminf\'s Hopper kernel (wgmma + TMA; tile \'t\' splits K over the 2 blocks of a thread-block cluster, summed through distributed shared memory; launches replayed from CUDA graphs once they repeat) and the faster kept, marked "sm90" where it won; for n ≤ 8 bminf\'s dp4a GEMV kernel instead; the cublasLt call captured once per shape and operand addresses into a CUDA graph and replayed, the same kernel with ~2 us of host time per call instead of ~7) into a preallocated output (igemmInto), vs torch._int_mm(out=) into a preallocated output (n padded to 17 where it needs more than 16 rows; TOPS count the real n). ' +
        'quantize: row absmax + float16 scale + int8, one read and one write, into preallocated outputs (the default "fast" kernel: one row per block, x * (1/s) with the exact division only near ties; the first kernel, exact division everywhere, measured 0.72-0.89x of the copy), against cuMemcpyDtoD copies in the same run moving as many bytes, and moving 256 MiB (bytes read plus written). ' +
        `int8 Linear (float16 in and out) against torch.nn.functional.linear in float16 (cuBLAS): "layer" is what the Linear layer runs (backend.linearInt8: on sm_90, quantizeRows + bminf's Hopper int8 GEMM, wgmma + TMA, with the dequantize in its epilogue, where that timed faster than the three calls at the shape: ${gpu.sm90.unavailable ?? 'built'}), "3 calls" is quantizeRows + cublasLt igemm + dequantize. All timed with CUDA events, median of 5 runs after warm-up.`,
    };
  },
};
