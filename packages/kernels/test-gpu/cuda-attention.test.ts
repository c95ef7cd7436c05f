// Backend.attention on CUDA (attention.cu's fused kernel for float16 heads of 64, 80, 128 dims) against
// the CPU op on fresh random data at awkward sizes. Skips, saying why, where no usable GPU is present.
//
// Tolerance. Both backends read the same float16 q, k, v and bias. The reference is the CPU op in
// float32 (inputs cast exactly), where nothing is rounded to float16 on the way. The fused kernel keeps
// scores and softmax statistics in float32 and rounds twice: each probability e^(s-m) to float16 before
// P·V (relative 2^-11 = 4.9e-4 each), and the output (4.9e-4 of |out|). The output is a convex
// combination of value rows, so |out| <= max|v| and the two roundings add at most ~1e-3·max|v|: we
// allow 2e-3·max|v|. (The CPU's float16 composition rounds the scores themselves to float16, an error
// of |s|·2^-11 in each logit, so it sits further from the float32 reference than the kernel; it is
// compared to the kernel with a looser bound, for orientation.)
import { type Tensor, attentionByParts, tidy } from '@bminf/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CudaBackend, attentionRoute, createCpuBackend, createCudaBackend, cudaAvailability } from '@bminf/kernels';
import { asFloat, both, firstDifference, hostData, randn, seedUsed, testMemoryLimit } from './helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] skipped: CUDA is unavailable: ${avail.reason}`);

interface Case { h: number; n: number; L: number; d: number; scale: number; causalOffset?: number; bias?: boolean; mask?: boolean; layout: 'fused' | 'split' }

/** max |a - b| over max |v|: the error relative to the largest value the output could take. */
function errOverScale(a: Float32Array, b: Float32Array, v: Float32Array): number {
  let e = 0;
  let s = 1e-6;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Number.isNaN(a[i]) !== Number.isNaN(b[i]) ? Infinity : Math.abs(a[i] - b[i]));
  for (const x of v) s = Math.max(s, Math.abs(x));
  return e / s;
}

describe.skipIf(!avail.available)('CUDA attention against the CPU op', () => {
  let gpu: CudaBackend;
  const cpu = createCpuBackend();
  beforeAll(() => {
    console.log(`[gpu tests] random seed ${seedUsed}`);
    gpu = createCudaBackend({ memoryLimit: testMemoryLimit(2 ** 29) });
  });
  afterAll(() => gpu?.dispose());

  /** q from a fused [n, 3hd] (or [n, hd]) buffer, keys and values from a fused [L, 3hd] (or two [L, hd]) on both backends. */
  function operands(c: Case) {
    const { h, n, L, d } = c;
    const w = c.layout === 'fused' ? 3 * h * d : h * d;
    const heads = (t: Tensor, rows: number, part: number) =>
      c.layout === 'fused' ? t.reshape([rows, 3, h, d]).permute([1, 2, 0, 3]).select(0, part) : t.reshape([rows, h, d]).permute([1, 0, 2]);
    const qd = hostData(randn(n * w, 0.8), 'float16');
    const kd = hostData(randn(L * w, 0.8), 'float16');
    const vd = hostData(randn(L * w), 'float16');
    const [qc, qg] = both(cpu, gpu, qd, [n, w]);
    const [kc, kg] = both(cpu, gpu, kd, [L, w]);
    const [vc, vg] = c.layout === 'fused' ? [kc, kg] : both(cpu, gpu, vd, [L, w]);
    const bias = c.bias ? randn(h * n * L, 2) : null;
    if (bias && c.mask) for (let i = 0; i < h * n; i++) for (let j = Math.max(1, L - 3); j < L; j++) bias[i * L + j] = -Infinity; // padded keys
    const [bc, bg] = bias ? both(cpu, gpu, hostData(bias, 'float16'), [h, n, L]) : [undefined, undefined];
    const opts = (b: Tensor | undefined) => ({ scale: c.scale, ...(c.causalOffset !== undefined ? { causalOffset: c.causalOffset } : {}), ...(b ? { bias: b } : {}) });
    return {
      cpu: { q: heads(qc, n, 0), k: heads(kc, L, 1), v: heads(vc, L, 2), options: opts(bc) },
      gpu: { q: heads(qg, n, 0), k: heads(kg, L, 1), v: heads(vg, L, 2), options: opts(bg) },
    };
  }

  const cases: Case[] = [
    { h: 64, n: 512, L: 512, d: 64, scale: 1, bias: true, layout: 'fused' }, // CPM-2's encoder
    { h: 4, n: 100, L: 100, d: 64, scale: 1, bias: true, mask: true, layout: 'fused' }, // padded keys masked in the bias
    { h: 32, n: 77, L: 77, d: 80, scale: 80 ** -0.5, causalOffset: 0, layout: 'fused' }, // CPM-1's prefill
    { h: 3, n: 130, L: 200, d: 80, scale: 0.11, causalOffset: 70, layout: 'split' }, // a prefill after 70 cached positions
    { h: 2, n: 65, L: 129, d: 128, scale: 0.09, bias: true, layout: 'split' },
    { h: 5, n: 1, L: 300, d: 64, scale: 0.125, causalOffset: 299, bias: true, layout: 'fused' },
    { h: 2, n: 7, L: 1, d: 128, scale: 1, layout: 'fused' },
    { h: 2, n: 1, L: 1, d: 80, scale: 1, bias: true, layout: 'split' },
    { h: 3, n: 70, L: 70, d: 64, scale: 0.125, causalOffset: -5, layout: 'split' }, // rows 0-4 see no key: zeros
    { h: 2, n: 63, L: 64, d: 64, scale: 0.125, causalOffset: 1, bias: true, layout: 'fused' },
  ];

  for (const c of cases) {
    it(`${JSON.stringify(c)}`, () => {
      tidy(() => {
        const o = operands(c);
        const route = attentionRoute({
          dtype: 'float16', ccMajor: gpu.info.computeCapability?.[0] ?? 0, heads: c.h, n: c.n, L: c.L, headDim: c.d, causalOffset: c.causalOffset,
          q: { strides: o.gpu.q.strides, misalign: 0 }, keys: { strides: o.gpu.k.strides, misalign: 0 }, values: { strides: o.gpu.v.strides, misalign: 0 },
        });
        expect(route, 'these cases are meant for the fused kernel').toHaveProperty('kernel');
        const got = asFloat(gpu.download(gpu.attention(o.gpu.q, o.gpu.k, o.gpu.v, o.gpu.options)));
        const f32 = (t: Tensor) => cpu.cast(t, 'float32');
        const ref = cpu.attention(f32(o.cpu.q), f32(o.cpu.k), f32(o.cpu.v), { ...o.cpu.options, ...(o.cpu.options.bias ? { bias: f32(o.cpu.options.bias) } : {}) });
        const want = asFloat(cpu.download(ref));
        const cpu16 = asFloat(cpu.download(cpu.attention(o.cpu.q, o.cpu.k, o.cpu.v, o.cpu.options)));
        const vals = asFloat(cpu.download(cpu.contiguous(o.cpu.v)));
        const eKernel = errOverScale(got, want, vals);
        const eCpu16 = errOverScale(cpu16, want, vals);
        console.log(`[attention] ${JSON.stringify(c)}: kernel ${eKernel.toExponential(2)}, CPU float16 composition ${eCpu16.toExponential(2)} (max |error| / max |v| against float32)`);
        expect(eKernel).toBeLessThanOrEqual(2e-3);
        expect(errOverScale(got, cpu16, vals)).toBeLessThanOrEqual(2e-3 + 2 * eCpu16);
        if (c.causalOffset !== undefined && c.causalOffset < 0) {
          // rows with no visible key are zeros, as the CPU softmax makes them
          const blind = Math.min(c.n, -c.causalOffset);
          expect(Array.from(got.subarray(0, blind * c.h * c.d)).every((x) => x === 0)).toBe(true);
        }
      });
    });
  }

  // ScoreBias: T5's encoder bias by distance [h, n + L - 1] (read with a row stride of -1) and the padding
  // as a key bias [L]. With the key bias 0 or -Infinity (exact sums) they are the [h, n, L] bias they
  // stand for, bit for bit, in the fused kernel and in the softmax (score_bias_*, then the usual kernel).
  const scoreCases: { h: number; n: number; L: number; d: number; causalOffset?: number }[] = [
    { h: 64, n: 512, L: 512, d: 64 }, // CPM-2's encoder
    { h: 3, n: 70, L: 70, d: 64, causalOffset: 0 },
    { h: 2, n: 33, L: 97, d: 128, causalOffset: 64 },
    { h: 5, n: 1, L: 130, d: 80 },
    { h: 2, n: 65, L: 3, d: 64 },
  ];
  for (const c of scoreCases) {
    it(`a bias by distance and a key bias, as the bias they stand for: ${JSON.stringify(c)}`, () => {
      tidy(() => {
        const { h, n, L, d } = c;
        const dist = randn(h * (n + L - 1), 2);
        const key = new Float32Array(L).map((_, j) => (L > 1 && j >= L - Math.min(3, L - 1) ? -Infinity : 0)); // padded keys
        const full = new Float32Array(h * n * L);
        for (let hh = 0; hh < h; hh++) for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) full[(hh * n + i) * L + j] = dist[hh * (n + L - 1) + j - i + n - 1] + key[j];
        const [, distanceBias] = both(cpu, gpu, hostData(dist, 'float16'), [h, n + L - 1]);
        const [keyC, keyBias] = both(cpu, gpu, hostData(key, 'float16'), [L]);
        const [, bias] = both(cpu, gpu, hostData(full, 'float16'), [h, n, L]);
        const [qc, q] = both(cpu, gpu, hostData(randn(h * n * d, 0.8), 'float16'), [h, n, d]);
        const [kc, k] = both(cpu, gpu, hostData(randn(h * L * d, 0.8), 'float16'), [h, L, d]);
        const [vc, v] = both(cpu, gpu, hostData(randn(h * L * d), 'float16'), [h, L, d]);
        const co = c.causalOffset !== undefined ? { causalOffset: c.causalOffset } : {};
        const terms = gpu.download(gpu.attention(q, k, v, { scale: 1, ...co, distanceBias, keyBias }));
        expect(firstDifference(terms, gpu.download(gpu.attention(q, k, v, { scale: 1, ...co, bias })))).toBe('identical');
        // the distance bias alone (the eager encoder and the decoder's prefill pass no key bias): the kernel without _kb
        const [, distOnly] = both(cpu, gpu, hostData(full.map((_, e) => dist[Math.floor(e / (n * L)) * (n + L - 1) + (e % L) - (Math.floor(e / L) % n) + n - 1]), 'float16'), [h, n, L]);
        expect(firstDifference(gpu.download(gpu.attention(q, k, v, { scale: 1, ...co, distanceBias })), gpu.download(gpu.attention(q, k, v, { scale: 1, ...co, bias: distOnly })))).toBe('identical');
        const vals = asFloat(gpu.download(gpu.contiguous(v)));
        const [distC] = both(cpu, gpu, hostData(dist, 'float16'), [h, n + L - 1]);
        const onCpu = cpu.download(cpu.attention(qc, kc, vc, { scale: 1, ...co, distanceBias: distC, keyBias: keyC }));
        expect(errOverScale(asFloat(terms), asFloat(onCpu), vals)).toBeLessThanOrEqual(1e-2);
        const [xc, x] = both(cpu, gpu, hostData(randn(h * n * L, 3), 'float16'), [h, n, L]);
        const sm = gpu.download(gpu.softmax(x, { ...co, distanceBias, keyBias }));
        expect(firstDifference(sm, gpu.download(gpu.softmax(x, { ...co, bias })))).toBe('identical');
        expect(errOverScale(asFloat(sm), asFloat(cpu.download(cpu.softmax(xc, { ...co, distanceBias: distC, keyBias: keyC }))), new Float32Array([1]))).toBeLessThanOrEqual(4e-3);
      });
    });
  }

  it('reads a bias by distance inside a recorded step as the eager op does', async () => {
    const [h, n, L, d] = [8, 96, 96, 64];
    const [, distanceBias] = both(cpu, gpu, hostData(randn(h * (n + L - 1), 2), 'float16'), [h, n + L - 1]);
    const [, keyBias] = both(cpu, gpu, hostData(new Float32Array(L).map((_, j) => (j > 90 ? -Infinity : 0)), 'float16'), [L]);
    const [, q] = both(cpu, gpu, hostData(randn(h * n * d, 0.8), 'float16'), [h, n, d]);
    const [, kv] = both(cpu, gpu, hostData(randn(h * L * d, 0.8), 'float16'), [h, L, d]);
    const [, x] = both(cpu, gpu, hostData(randn(h * n * L, 3), 'float16'), [h, n, L]);
    const options = { scale: 1, distanceBias, keyBias };
    const eager = [gpu.download(gpu.attention(q, kv, kv, options)), gpu.download(gpu.softmax(x, { distanceBias, keyBias }))];
    const outs = [gpu.empty([n, h * d], 'float16'), gpu.empty([h, n, L], 'float16')];
    const step = gpu.captureStep(() => {
      gpu.copy(gpu.attention(q, kv, kv, options), outs[0]);
      gpu.copy(gpu.softmax(x, { distanceBias, keyBias }), outs[1]);
    });
    await step.run();
    expect(firstDifference(gpu.download(outs[0]), eager[0])).toBe('identical');
    expect(firstDifference(gpu.download(outs[1]), eager[1])).toBe('identical');
    step.dispose();
  });

  it('runs inside a recorded step, equal to the eager op bit for bit; the composition on CUDA stays close', async () => {
    const c: Case = { h: 8, n: 96, L: 96, d: 64, scale: 1, bias: true, layout: 'fused' };
    const o = operands(c);
    const eager = gpu.download(gpu.attention(o.gpu.q, o.gpu.k, o.gpu.v, o.gpu.options));
    const out = gpu.empty([c.n, c.h * c.d], 'float16');
    const step = gpu.captureStep(() => gpu.copy(gpu.attention(o.gpu.q, o.gpu.k, o.gpu.v, o.gpu.options), out));
    await step.run();
    expect(firstDifference(gpu.download(out), eager)).toBe('identical');
    step.dispose();
    const parts = gpu.download(attentionByParts(gpu, o.gpu.q, o.gpu.k, o.gpu.v, o.gpu.options));
    const vals = asFloat(gpu.download(gpu.contiguous(o.gpu.v)));
    expect(errOverScale(asFloat(eager), asFloat(parts), vals)).toBeLessThanOrEqual(1e-2);
  });
});
