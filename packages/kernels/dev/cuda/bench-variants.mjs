// A quick benchmark behind issue 4's two open targets, cheaper than the whole gpu-kernels suite: the
// host's time to issue one call, the quantize kernels against a device-to-device copy of as many bytes,
// and igemm with 16 and 64 rows (through the backend with and without the output allocated per call,
// and the addon's cublasLt call alone) against torch._int_mm (out= preallocated) in the same run.
// Run on the GPU machine after `pnpm build`: node packages/kernels/dev/cuda/bench-variants.mjs
// Timing as the suite (tooling/bench/suites/gpu-kernels.mjs): CUDA events around back-to-back calls
// after warm-up, median of 5; `host` is the host's time to issue one call (measured without waiting).
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randBytes, randHalf, runTorchBench } from '../../../../tooling/bench/gpu-timing.mjs';
import { kernelVariants } from './variants.mjs';
const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
const torch = runTorchBench(['--tokens', '16,64']);
if (torch.error) console.log(`torch side failed: ${torch.error}`);
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 8 * 2 ** 30 });
const lt = createCudaBackend({ memoryLimit: 2 * 2 ** 30, gemvMaxRows: 0 });
const n = gpu.nativeCuda;
// As the suite, but each run starts on an empty queue; `host` is the time to issue one call.
const timed = (fn) => eventTimed(n, fn, { syncEachRun: true });

const us = (x) => (x * 1e6).toFixed(2);

// igemm's issue mode for the length of fn (0 cublasLt per call, 1 no GEMM, 2 graph replay, the default; see blaslt.cc).
function withMode(mode, fn) {
  const prev = n.bench.igemmMode(mode);
  try {
    return fn();
  } finally {
    n.bench.igemmMode(prev);
  }
}

// ---- host cost of one call --------------------------------------------------------------------------
// A tiny kernel (one row of 8 halves), so that the host's time to issue a call is what is measured.
{
  const hostOnly = (fn, iters = 3000) => {
    for (let i = 0; i < 200; i++) fn();
    n.synchronize();
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    const t = (performance.now() - t0) / 1000 / iters;
    n.synchronize();
    return t;
  };
  const x1 = gpu.upload(randHalf(8), [1, 8]);
  const v1 = gpu.empty([1, 8], 'int8');
  const s1 = gpu.empty([1], 'float16');
  const fn = n.getFunction(gpu.kernels.module, 'quantize_f16_fast1');
  const flat = [];
  for (const t of [x1, v1, s1]) {
    const sp = gpu.span(t);
    flat.push(sp.region, sp.byteOffset, sp.byteLength);
  }
  flat.push(1, 8);
  const a16 = gpu.upload(randBytes(16 * 64), [16, 64]);
  const b16 = gpu.upload(randBytes(64 * 64), [64, 64]);
  const c16 = gpu.empty([16, 64], 'int32');
  const la = lt.upload(randBytes(16 * 64), [16, 64]);
  const lb = lt.upload(randBytes(64 * 64), [64, 64]);
  const lc = lt.empty([16, 64], 'int32');
  const [as, bs, cs] = [la, lb, lc].map((t) => lt.span(t));
  const rows = [
    ['native launch, prebuilt args', hostOnly(() => n.launch(fn, [1, 1, 1], [32, 1, 1], 0, 'pppii', flat))],
    ['quantizeRowsInto (1 x 8)', hostOnly(() => gpu.quantizeRowsInto(x1, v1, s1))],
    ['quantizeRows + dispose (1 x 8)', hostOnly(() => { const q = gpu.quantizeRows(x1); q.values.dispose(); q.scales.dispose(); })],
    ['native igemm 16x64x64 (default mode)', hostOnly(() => n.igemm(as.region, as.byteOffset, as.byteLength, bs.region, bs.byteOffset, bs.byteLength, cs.region, cs.byteOffset, cs.byteLength, 16, 64, 64))],
    ['native igemmFast 16x64x64, mode 0 (cublasLtMatmul)', withMode(0, () => hostOnly(() => n.igemmFast(as.region, as.byteOffset, bs.region, bs.byteOffset, cs.region, cs.byteOffset, 16, 64, 64)))],
    ['native igemmFast, mode 1 (no GEMM: the addon alone)', withMode(1, () => hostOnly(() => n.igemmFast(as.region, as.byteOffset, bs.region, bs.byteOffset, cs.region, cs.byteOffset, 16, 64, 64)))],
    ['native igemmFast, mode 2 (CUDA graph replay)', withMode(2, () => hostOnly(() => n.igemmFast(as.region, as.byteOffset, bs.region, bs.byteOffset, cs.region, cs.byteOffset, 16, 64, 64)))],
    ['native igemm, mode 1 (no GEMM: the addon alone)', withMode(1, () => hostOnly(() => n.igemm(as.region, as.byteOffset, as.byteLength, bs.region, bs.byteOffset, bs.byteLength, cs.region, cs.byteOffset, cs.byteLength, 16, 64, 64)))],
    ['igemmInto 16x64x64 (default mode)', hostOnly(() => gpu.igemmInto(a16, b16, c16))],
    ['igemmInto 16x64x64, mode 0 (cublasLtMatmul)', withMode(0, () => hostOnly(() => gpu.igemmInto(a16, b16, c16)))],
    ['igemm + dispose 16x64x64', hostOnly(() => gpu.igemm(a16, b16).dispose())],
  ];
  const real = gpu.nativeCuda;
  gpu.native = { ...real, launch: () => {}, igemm: () => {}, igemmFast: () => {} }; // the JS side alone
  rows.push(['igemmInto 16x64x64, JS only', hostOnly(() => gpu.igemmInto(a16, b16, c16))]);
  rows.push(['igemm + dispose 16x64x64, JS only', hostOnly(() => gpu.igemm(a16, b16).dispose())]);
  rows.push(['quantizeRowsInto, JS only', hostOnly(() => gpu.quantizeRowsInto(x1, v1, s1))]);
  gpu.native = real;
  console.log('\n== host time per call (us), no waiting');
  for (const [name, t] of rows) console.log(`${name}\t${us(t)}`);
  for (const t of [x1, v1, s1, a16, b16, c16, la, lb, lc]) t.dispose();
}

// ---- quantize -------------------------------------------------------------------------------------
const copyGBps = (bytes) => {
  const src = gpu.empty([bytes], 'int8');
  const dst = gpu.empty([bytes], 'int8');
  const ss = gpu.span(src), sd = gpu.span(dst);
  const t = timed(() => n.copy(ss.region, ss.byteOffset, ss.byteLength, sd.region, sd.byteOffset, sd.byteLength)).s;
  src.dispose();
  dst.dispose();
  return (2 * bytes) / t / 1e9;
};
const qrows = [];
const dev = kernelVariants(gpu); // 'block' lives in quantize_variants.cu, 'fast' is the product's
for (const [r, cols] of [[4096, 4096]]) {
  const x = gpu.upload(randHalf(r * cols), [r, cols]);
  const values = gpu.empty([r, cols], 'int8');
  const scales = gpu.empty([r], 'float16');
  const moved = r * cols * 3 + r * 2;
  const same = copyGBps(Math.round(moved / 2));
  for (const variant of ['block', 'fast', 'block', 'fast']) {
    const { s, host } = timed(() => dev.quantizeRowsInto(variant, x, values, scales));
    const gbps = moved / s / 1e9;
    qrows.push(`${r}x${cols}\t${variant}\t${us(s)} us\thost ${us(host)}\t${gbps.toFixed(0)} GB/s\tcopy ${same.toFixed(0)}\t${(gbps / same).toFixed(3)}x`);
  }
  x.dispose();
  values.dispose();
  scales.dispose();
}
console.log('\n== quantize (GB/s = bytes read + written; x = vs a copy of as many bytes)');
for (const l of qrows) console.log(l);

// ---- igemm ----------------------------------------------------------------------------------------
console.log('\n== igemm, us per call (GPU-timed back to back) [host issue time]; torch._int_mm with out=');
const irows = [];
for (const m of [4096, 10240]) {
  for (const k of [4096, 10240]) {
    for (const tok of [16, 64]) {
      const a = gpu.upload(randBytes(tok * k), [tok, k]);
      const w = gpu.upload(randBytes(m * k), [m, k]);
      const out = gpu.empty([tok, m], 'int32');
      const la = lt.upload(randBytes(tok * k), [tok, k]);
      const lw = lt.upload(randBytes(m * k), [m, k]);
      const lout = lt.empty([tok, m], 'int32');
      const ref = torch.igemm?.find((r) => r.m === m && r.k === k && r.n === tok);
      const theirs = ref ? ref.int_mm_s : NaN;
      const res = [];
      const add = (name, t) => res.push(`${name} ${us(t.s)} [${us(t.host)}] ${(theirs / t.s).toFixed(2)}x`);
      add('default+alloc', timed(() => gpu.igemm(a, w).dispose()));
      for (let rep = 0; rep < 2; rep++) {
        add('into-lt', withMode(0, () => timed(() => gpu.igemmInto(a, w, out))));
        add('into-graph', withMode(2, () => timed(() => gpu.igemmInto(a, w, out))));
      }
      const as = lt.span(la), bs = lt.span(lw), cs = lt.span(lout);
      add('lt-raw', timed(() => n.igemm(as.region, as.byteOffset, as.byteLength, bs.region, bs.byteOffset, bs.byteLength, cs.region, cs.byteOffset, cs.byteLength, tok, m, k)));
      irows.push(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\t${res.join('\t')}`);
      console.log(irows[irows.length - 1]);
      for (const t of [a, w, out, la, lw, lout]) t.dispose();
    }
  }
}
console.log(`torch copy 256 MiB: ${torch.copy?.GBps?.toFixed(0)} GB/s; ours ${copyGBps(256 * 2 ** 20).toFixed(0)} GB/s`);
lt.dispose();
gpu.dispose();
