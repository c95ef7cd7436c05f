// igemm with 16-64 rows, cublasLt's heuristic candidates alone (search off) against those plus the
// fastest configurations of the exhaustive algorithm search (search on, the default), interleaved in
// one process, and torch._int_mm (out= preallocated) from tooling/bench/torch_bench.py in the same run.
// Run on the GPU machine after `pnpm build`: BMINF_LT_LOG=1 node packages/kernels/test-gpu/bench-search.mjs
// (the log, on stderr, lists the search's fastest configurations and the candidate taken).
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randBytes, runTorchBench } from '../../../tooling/bench/gpu-timing.mjs';
const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
const torch = runTorchBench(['--tokens', '16,64']);
if (torch.error) console.log(`torch side failed: ${torch.error}`);
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 4 * 2 ** 30, gemvMaxRows: 0 });
const n = gpu.nativeCuda;
// As the suite, but each run starts on an empty queue; `host` is the time to issue one call.
const timed = (fn) => eventTimed(n, fn, { syncEachRun: true }).s;

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
    n.bench.igemmSearch(on); // drops the plans: the next call picks again
    const t = timed(() => gpu.igemmInto(a, w, out));
    res.push(`${on ? 'search' : 'heuristic'} ${us(t)} ${(theirs / t).toFixed(3)}x`);
  }
  console.log(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\t${res.join('\t')}`);
  for (const t of [a, w, out]) t.dispose();
}
n.bench.igemmSearch(true);
gpu.dispose();
