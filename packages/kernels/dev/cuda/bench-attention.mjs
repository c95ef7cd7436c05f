// Backend.attention's fused kernel (attention.cu) against its composition (gemm, softmax, gemm, permute
// copy: what attend() ran before) and, where the device's python has torch, torch's
// scaled_dot_product_attention on the same shapes, at CPM-2's encoder (64 heads x 64 dims, 512 tokens,
// T5 bias, scale 1) and CPM-1's prefill (32 heads x 80 dims, 512 tokens, causal). q, k, v are heads of one
// fused [n, 3d] projection, as SelfAttention.project makes them.
// Run on the GPU machine after `pnpm build`: node packages/kernels/dev/cuda/bench-attention.mjs
// Timing as bench-variants.mjs: CUDA events around back-to-back calls after warm-up, median of 5.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attentionByParts, tidy } from '@bminf/core';
import { createCudaBackend, cudaAvailability, formatCudaInfo } from '@bminf/kernels';
import { eventTimed, randHalf } from '../../../../tooling/bench/gpu-timing.mjs';

const avail = cudaAvailability();
if (!avail.available) {
  console.log(`CUDA is unavailable: ${avail.reason}`);
  process.exit(0);
}
console.log(formatCudaInfo());
const gpu = createCudaBackend({ memoryLimit: 4 * 2 ** 30 });
const n = gpu.nativeCuda;
// each call's output is disposed at once (tidy keeps what fn returns)
const timed = (fn) => eventTimed(n, () => tidy(fn).dispose(), { syncEachRun: true });
const us = (x) => (x * 1e6).toFixed(1);

const SHAPES = [
  { name: 'CPM-2 encoder', heads: 64, tokens: 512, headDim: 64, scale: 1, bias: true },
  { name: 'CPM-1 prefill', heads: 32, tokens: 512, headDim: 80, scale: 80 ** -0.5, causal: true },
];

let torch = null;
try {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bench_attention_torch.py');
  const out = execFileSync('python3', [script, JSON.stringify(SHAPES)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  torch = JSON.parse(out.trim().split('\n').pop());
} catch (e) {
  console.log(`torch side skipped: ${e.message.split('\n')[0]}`);
}

for (const [i, s] of SHAPES.entries()) {
  const { heads: h, tokens: t, headDim: d } = s;
  // random float16 of magnitudes in [2^-2, 2^1) (randHalf)
  const qkv = gpu.upload(randHalf(t * 3 * h * d, 11), [t, 3 * h * d]).reshape([t, 3, h, d]).permute([1, 2, 0, 3]);
  const [q, k, v] = [0, 1, 2].map((j) => qkv.select(0, j));
  const bias = s.bias ? gpu.upload(randHalf(h * t * t, 12), [h, t, t]) : undefined;
  const options = { scale: s.scale, ...(s.causal ? { causalOffset: 0 } : {}), ...(bias ? { bias } : {}) };
  const fused = timed(() => gpu.attention(q, k, v, options));
  const parts = timed(() => attentionByParts(gpu, q, k, v, options));
  const flops = 4 * h * t * t * d * (s.causal ? 0.5 : 1);
  const line = [`${s.name} [${h} heads, ${t}, ${d}]${s.bias ? ' + bias' : ''}${s.causal ? ' causal' : ''}:`,
    `fused ${us(fused.s)} us (${(flops / fused.s / 1e12).toFixed(0)} TFLOPS)`, `composition ${us(parts.s)} us (x${(parts.s / fused.s).toFixed(2)})`];
  if (s.bias) {
    // T5's bias as the encoder passes it now: by distance [h, 2t - 1] plus the padding as a key bias [t]
    const distanceBias = gpu.upload(randHalf(h * (2 * t - 1), 13), [h, 2 * t - 1]);
    const keyBias = gpu.zeros([t], 'float16');
    const byDistance = timed(() => gpu.attention(q, k, v, { scale: s.scale, distanceBias, keyBias }));
    line.push(`fused by distance + key bias ${us(byDistance.s)} us (x${(fused.s / byDistance.s).toFixed(2)} of the full bias's speed)`);
  }
  const tr = torch?.results?.[i];
  if (tr) line.push(`torch sdpa ${us(tr.s)} us (${tr.backend})`);
  console.log(line.join(', '));
}
if (torch) console.log(`torch ${torch.torch} on ${torch.device}`);
gpu.dispose();
