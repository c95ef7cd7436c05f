// igemm from 128 to 1024 rows: cublasLt (graph replay), each tile of bminf's Hopper kernel forced
// ('a', 'b', and the split-K tiles 's' and 't'), and igemmKernel 'auto' (the per-shape timed choice),
// against torch._int_mm (out= preallocated) from tooling/bench/torch_bench.py in the same run. Timed as
// the gpu-kernels suite times igemm (CUDA events around back-to-back calls; `host` is the time to issue
// one call, which bounds a short kernel). Run on the GPU machine after `pnpm build`:
// node packages/kernels/test-gpu/bench-splitk.mjs
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randBytes, runTorchBench } from '../../../tooling/bench/gpu-timing.mjs';
const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
const torch = runTorchBench(['--tokens', '256,1024']);
if (torch.error) console.log(`torch side failed: ${torch.error}`);
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 4 * 2 ** 30 });
if (!gpu.sm90.ready()) console.log(`Hopper kernel unavailable: ${gpu.sm90.unavailable}`);
const n = gpu.nativeCuda;
const us = (x) => (x * 1e6).toFixed(2);

console.log('\n== igemm, us per call (GPU) / host us per call; x = torch._int_mm time / ours');
for (const [m, k, tok] of [[4096, 4096, 256], [10240, 4096, 256], [4096, 10240, 256], [10240, 10240, 256], [4096, 4096, 1024], [4096, 4096, 128], [4096, 4096, 512]]) {
  const a = gpu.upload(randBytes(tok * k, 12345), [tok, k]);
  const w = gpu.upload(randBytes(m * k, 777), [m, k]);
  const out = gpu.empty([tok, m], 'int32');
  const ref = torch.igemm?.find((r) => r.m === m && r.k === k && r.n === tok);
  const theirs = ref ? ref.int_mm_s : NaN;
  const res = [];
  const ways = [['cublaslt', null], ['sm90', 'a'], ['sm90', 'b'], ['sm90', 's'], ['sm90', 't'], ['auto', null]];
  for (let round = 0; round < 2; round++) {
    for (const [kernel, tile] of ways) {
      gpu.igemmKernel = kernel;
      gpu.sm90.tile = tile;
      const { s, host } = eventTimed(n, () => gpu.igemmInto(a, w, out));
      res.push(`${tile ?? kernel} ${us(s)}/${us(host)} ${(theirs / s).toFixed(3)}x`);
    }
  }
  gpu.sm90.tile = null;
  console.log(`${m}x${k} n=${tok}\ttorch ${us(theirs)}\tauto took ${gpu.igemmChoice.get(`${tok}:${m}:${k}`)}\n  ${res.join('\n  ')}`);
  for (const t of [a, w, out]) t.dispose();
}
gpu.dispose();
