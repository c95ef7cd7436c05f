// GPU kernels: bminf's int8 GEMM (cublasLt, heuristic search, 32 MiB workspace), its quantize kernel and
// its whole int8 Linear (quantize + igemm + dequantize, float16 in and out), against PyTorch on the same
// GPU in the same run (tooling/bench/torch_bench.py: torch._int_mm, float16 matmul and F.linear, and a
// device-to-device copy). Both sides are timed with CUDA events around many back-to-back calls after
// warm-up (median of 5). Shapes: m = output features, k = input features, n = tokens.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';

const here = dirname(fileURLToPath(import.meta.url));

function torchSide() {
  try {
    const out = execFileSync('python3', [join(here, '..', 'torch_bench.py')], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(out.trim().split('\n').pop());
  } catch (e) {
    return { error: `torch_bench.py failed: ${e.message}` };
  }
}

/** Seconds per call of fn: median of 5 event-timed runs of back-to-back calls, after warm-up. */
function timed(n, fn, targetS = 0.05) {
  const e0 = n.eventCreate();
  const e1 = n.eventCreate();
  // Warm-up: at least 20 ms of calls, so that clocks and caches settle before anything is timed.
  const w0 = performance.now();
  do {
    for (let i = 0; i < 3; i++) fn();
    n.synchronize();
  } while (performance.now() - w0 < 20);
  n.eventRecord(e0);
  for (let i = 0; i < 3; i++) fn();
  n.eventRecord(e1);
  const est = n.eventElapsed(e0, e1) / 1000 / 3;
  const iters = Math.max(10, Math.min(2000, Math.floor(targetS / Math.max(est, 1e-7))));
  const runs = [];
  for (let r = 0; r < 5; r++) {
    n.eventRecord(e0);
    for (let i = 0; i < iters; i++) fn();
    n.eventRecord(e1);
    runs.push(n.eventElapsed(e0, e1) / 1000 / iters);
  }
  runs.sort((a, b) => a - b);
  return runs[2];
}

function randBytes(len) {
  const a = new Int8Array(len);
  let s = 12345;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 16) % 255) - 127;
  }
  return a;
}

function randHalf(len) {
  const a = new Uint16Array(len);
  let s = 777;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // float16 bits of a value of magnitude 0.25 to 2: random sign and mantissa, exponents 13 to 15
    const e = 13 + ((s >>> 8) % 3);
    a[i] = ((s & 1) << 15) | (e << 10) | ((s >>> 12) & 0x3ff);
  }
  return a;
}

export default {
  title: 'GPU kernels (bminf vs PyTorch)',
  async run() {
    const avail = cudaAvailability();
    if (!avail.available) throw new Error(`CUDA is unavailable: ${avail.reason}`);
    // PyTorch first, in its own process, so that each side has the GPU's memory to itself.
    const torch = torchSide();
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
      rows.push(['igemm', `${m}×${k}, n=${tok}`, ours, tFmt(theirs), 'TOPS', theirs ? ours / theirs : 'n/a', m === 8192 ? '≥ 1.2×' : '≥ 1.0×', tFmt(fp16)]);
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
        for (const variant of ['fast']) {
          gpu.quantizeVariant = variant;
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
    for (const [m, k, tok] of [[4096, 4096, 4096], [10240, 4096, 4096], [4096, 10240, 4096]]) {
      const x = gpu.upload(randHalf(tok * k), [tok, k]);
      const w = gpu.upload(randBytes(m * k), [m, k]);
      const ws = gpu.upload(randHalf(m), [m]);
      const t = timed(n, () => {
        const q = gpu.quantizeRows(x);
        const acc = gpu.igemm(q.values, w);
        const y = gpu.dequantize(acc, q.scales, ws, { dtype: 'float16' });
        q.values.dispose();
        q.scales.dispose();
        acc.dispose();
        y.dispose();
      });
      const ref = torch.linear?.find((r) => r.m === m && r.k === k && r.n === tok);
      rows.push(['int8 Linear', `${m}×${k}, n=${tok}`, t * 1e3, tFmt(ref ? ref.fp16_linear_s * 1e3 : undefined), 'ms (lower is better)', ref ? ref.fp16_linear_s / t : 'n/a', '≥ 1.3× fp16', '']);
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
        'n padded to a multiple of 4; for n ≤ 8 bminf\'s dp4a GEMV kernel instead; the cublasLt call captured once per shape and operand addresses into a CUDA graph and replayed, the same kernel with ~2 us of host time per call instead of ~7) into a preallocated output (igemmInto), vs torch._int_mm(out=) into a preallocated output (n padded to 17 where it needs more than 16 rows; TOPS count the real n). ' +
        'quantize: row absmax + float16 scale + int8, one read and one write, into preallocated outputs (the default "fast" kernel: one row per block, x * (1/s) with the exact division only near ties; the first kernel, exact division everywhere, measured 0.72-0.89x of the copy), against cuMemcpyDtoD copies in the same run moving as many bytes, and moving 256 MiB (bytes read plus written). ' +
        'int8 Linear: quantizeRows + igemm + dequantize (float16 out) against torch.nn.functional.linear in float16 (cuBLAS). All timed with CUDA events, median of 5 runs after warm-up.',
    };
  },
};
