// igemm with 16-64 rows, cublasLt's heuristic candidates alone (search off) against those plus the
// fastest configurations of the exhaustive algorithm search (search on, the default), interleaved in
// one process, and torch._int_mm (out= preallocated) from tooling/bench/torch_bench.py in the same run.
// Run on the GPU machine after `pnpm build`: BMINF_LT_LOG=1 node packages/kernels/test-gpu/bench-search.mjs
// (the log, on stderr, lists the search's fastest configurations and the candidate taken).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';

const here = dirname(fileURLToPath(import.meta.url));
const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
let torch = {};
try {
  const out = execFileSync('python3', [join(here, '../../../tooling/bench/torch_bench.py'), '--tokens', '16,64'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  torch = JSON.parse(out.trim().split('\n').pop());
} catch (e) {
  console.log(`torch side failed: ${e.message}`);
}
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 4 * 2 ** 30, gemvMaxRows: 0 });
const n = gpu.nativeCuda;

// As the suite: CUDA events around back-to-back calls after warm-up, median of 5.
function timed(fn, targetS = 0.05) {
  const e0 = n.eventCreate();
  const e1 = n.eventCreate();
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
    n.synchronize();
    n.eventRecord(e0);
    for (let i = 0; i < iters; i++) fn();
    n.eventRecord(e1);
    runs.push(n.eventElapsed(e0, e1) / 1000 / iters);
  }
  runs.sort((a, b) => a - b);
  return runs[2];
}
function randBytes(len, seed) {
  const a = new Int8Array(len);
  let s = seed;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 16) % 255) - 127;
  }
  return a;
}
const us = (x) => (x * 1e6).toFixed(2);

console.log('\n== igemm, us per call (GPU-timed back to back, graph replay); x = torch._int_mm time / ours');
for (const [m, k, tok] of [[10240, 4096, 16], [10240, 4096, 64], [4096, 4096, 16], [4096, 10240, 16], [10240, 10240, 16]]) {
  const a = gpu.upload(randBytes(tok * k, 12345), [tok, k]);
  const w = gpu.upload(randBytes(m * k, 777), [m, k]);
  const out = gpu.empty([tok, m], 'int32');
  const ref = torch.igemm?.find((r) => r.m === m && r.k === k && r.n === tok);
  const theirs = ref ? ref.int_mm_s : NaN;
  const res = [];
  for (const on of [false, true, false, true]) {
    n.igemmSearch(on); // drops the plans: the next call picks again
    const t = timed(() => gpu.igemmInto(a, w, out));
    res.push(`${on ? 'search' : 'heuristic'} ${us(t)} ${(theirs / t).toFixed(3)}x`);
  }
  console.log(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\t${res.join('\t')}`);
  for (const t of [a, w, out]) t.dispose();
}
n.igemmSearch(true);
gpu.dispose();
