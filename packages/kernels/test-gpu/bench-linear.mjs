// The int8 linear layer (float16 in and out) and igemm, bminf's kernels side by side in one process:
// - int8 Linear at CPM-2's shapes: quantize + cublasLt igemm + dequantize ("plain") against quantize +
//   the Hopper kernel with the dequantize in its epilogue ("fused"), interleaved, against
//   torch.nn.functional.linear in float16 from tooling/bench/torch_bench.py in the same run; then the
//   fused (each tile) and plain layer over token counts 16-1024;
// - igemm: cublasLt against each tile of the Hopper kernel (int32 out) and igemmKernel 'auto' at
//   CPM-2's shapes, against torch._int_mm.
// Every fused output is checked bit for bit against the plain one. Run on the GPU machine after
// `pnpm build`: node packages/kernels/test-gpu/bench-linear.mjs
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randBytes, randHalf, runTorchBench } from '../../../tooling/bench/gpu-timing.mjs';

const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
const torch = runTorchBench(['--tokens', process.env.BENCH_TOKENS ?? '16,64,128,256,512,1024,4096', '--linear']);
if (torch.error) console.log(`torch side failed: ${torch.error}`);
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 8 * 2 ** 30 });
gpu.routes.fusedLinearTune = false; // 'fused' below always means the fused kernel
const n = gpu.nativeCuda;
const fusedMinRows = gpu.routes.fusedLinearMinRows;
console.log(`Hopper kernel: ${gpu.sm90.ready() ? 'compiled' : gpu.sm90.unavailable}`);
const timed = (fn) => eventTimed(n, fn).s;
const us = (x) => (x * 1e6).toFixed(1);

const linear = (x, w, ws) => gpu.linearInt8(x, w, ws, { dtype: 'float16' });
function check(x, w, ws, what) {
  gpu.routes.fusedLinear = false;
  const a = gpu.download(linear(x, w, ws));
  gpu.routes.fusedLinear = true;
  const b = gpu.download(linear(x, w, ws));
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  if (diff) console.log(`MISMATCH ${what}: ${diff} of ${a.length} elements differ`);
}

console.log('\n== int8 Linear, 4096 tokens, us per call; x = torch F.linear fp16 time / ours');
for (const [m, k, tok] of [[4096, 4096, 4096], [10240, 4096, 4096], [4096, 10240, 4096]]) {
  const x = gpu.upload(randHalf(tok * k), [tok, k]);
  const w = gpu.upload(randBytes(m * k), [m, k]);
  const ws = gpu.upload(randHalf(m, 99), [m]);
  for (const tile of ['a', 'b']) {
    gpu.sm90.tile = tile;
    check(x, w, ws, `${m}x${k} tile ${tile}`);
  }
  gpu.sm90.tile = null;
  const ref = torch.linear?.find((r) => r.m === m && r.k === k && r.n === tok);
  const theirs = ref ? ref.fp16_linear_s : NaN;
  const res = [];
  for (const fused of [false, true, false, true]) {
    gpu.routes.fusedLinear = fused;
    const t = timed(() => linear(x, w, ws).dispose());
    res.push(`${fused ? 'fused' : 'plain'} ${us(t)} ${(theirs / t).toFixed(3)}x`);
  }
  gpu.routes.fusedLinear = true;
  console.log(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\t${res.join('\t')}`);
  for (const t of [x, w, ws]) t.dispose();
}

console.log('\n== int8 Linear by token count, us per call (plain: three calls, igemm as igemmKernel "auto" picks / fused, each tile)');
for (const [m, k, tok] of [[4096, 4096, 16], [4096, 4096, 64], [4096, 4096, 128], [4096, 4096, 256], [4096, 4096, 512], [4096, 4096, 1024], [10240, 4096, 256], [4096, 10240, 256]]) {
  const x = gpu.upload(randHalf(tok * k), [tok, k]);
  const w = gpu.upload(randBytes(m * k), [m, k]);
  const ws = gpu.upload(randHalf(m, 99), [m]);
  for (const tile of ['a', 'b', 't', 'a2']) {
    gpu.sm90.tile = tile;
    gpu.routes.fusedLinearMinRows = 1;
    check(x, w, ws, `n=${tok} tile ${tile}`);
  }
  gpu.sm90.tile = null;
  const res = [];
  for (const [fused, tile] of [[false, null], [true, 'a'], [true, 'b'], [true, 't'], [false, null], [true, 'a'], [true, 'b'], [true, 't']]) {
    gpu.routes.fusedLinear = fused;
    gpu.routes.fusedLinearMinRows = 1;
    gpu.sm90.tile = tile;
    res.push(`${fused ? `fused ${tile}` : 'plain'} ${us(timed(() => linear(x, w, ws).dispose()))}`);
  }
  gpu.sm90.tile = null;
  gpu.routes.fusedLinear = true;
  gpu.routes.fusedLinearMinRows = fusedMinRows;
  console.log(`${m}x${k} n=${tok}\t${res.join('\t')}`);
  for (const t of [x, w, ws]) t.dispose();
}

console.log('\n== int8 Linear at CPM-2 encoder shapes, 512 tokens, 8 weight copies in turn (cold L2), us per call (plain / fused at tileFor\'s tile, then each tile forced)');
for (const [m, k] of [[12288, 4096], [4096, 4096], [20480, 4096], [4096, 10240], [8192, 4096]]) {
  const tok = 512;
  const x = gpu.upload(randHalf(tok * k), [tok, k]);
  const ws = gpu.upload(randHalf(m, 99), [m]);
  const wl = Array.from({ length: 8 }, (_, i) => gpu.upload(randBytes(m * k, 777 + i), [m, k]));
  let j = 0;
  const res = [];
  for (const fused of [false, true, false, true]) {
    gpu.routes.fusedLinear = fused;
    res.push(`${fused ? 'fused' : 'plain'} ${us(timed(() => linear(x, wl[j++ % 8], ws).dispose()))}`);
  }
  gpu.routes.fusedLinear = true;
  for (const tile of ['a', 't', 'b', 'a2', 'a', 'a2']) {
    gpu.sm90.tile = tile;
    res.push(`${tile} ${us(timed(() => linear(x, wl[j++ % 8], ws).dispose()))}`);
  }
  gpu.sm90.tile = null;
  console.log(`${m}x${k} n=${tok}\t${res.join('\t')}`);
  for (const t of [x, ws, ...wl]) t.dispose();
}

console.log('\n== igemm, us per call (GPU) / host us per call; x = torch._int_mm time / ours (cublasLt, each Hopper tile forced, and "auto", the per-shape timed choice)');
const shapes = [];
for (const m of [4096, 10240]) for (const k of [4096, 10240]) for (const t of [16, 64, 128, 256, 512, 1024, 4096]) shapes.push([m, k, t]);
for (const [m, k, tok] of shapes) {
  const a = gpu.upload(randBytes(tok * k, 12345), [tok, k]);
  const w = gpu.upload(randBytes(m * k, 777), [m, k]);
  const out = gpu.empty([tok, m], 'int32');
  const ref = torch.igemm?.find((r) => r.m === m && r.k === k && r.n === tok);
  const theirs = ref ? ref.int_mm_s : NaN;
  const res = [];
  const ways = [['cublaslt'], ['sm90', 'a'], ['sm90', 'b'], ['sm90', 't'], ['sm90', 'a2'], ['auto']];
  for (const [kern, tile] of [...ways, ...ways]) {
    gpu.routes.igemmKernel = kern;
    gpu.sm90.tile = tile ?? null;
    const { s, host } = eventTimed(n, () => gpu.igemmInto(a, w, out));
    res.push(`${kern}${tile ? ` ${tile}` : ''} ${us(s)}/${us(host)} ${(theirs / s).toFixed(2)}x`);
  }
  gpu.sm90.tile = null;
  gpu.routes.igemmKernel = 'auto';
  console.log(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\tauto took ${gpu.tuner.igemmChoice.get(`${tok}:${m}:${k}`) ?? 'cublaslt'}\t${res.join('\t')}`);
  for (const t of [a, w, out]) t.dispose();
}
gpu.dispose();
