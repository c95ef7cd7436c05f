// The layers on the CPU backend against plain double-precision loops written here (and the kernels'
// integer reference for the W8A8 path): what each layer computes, and the errors it raises.
import { InvalidArgumentError, ShapeMismatchError, type Tensor } from '@bminf/core';
import { createCpuBackend, reference } from '@bminf/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { Embedding, FeedForward, KVCache, LayerNorm, Linear, PositionEmbedding, SelfAttention } from '../src/index.js';

const b = createCpuBackend();
afterAll(() => b.dispose());

let seed = 12345;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296 - 0.5;
};
const values = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rnd() * scale);
const up = (data: Float32Array, shape: number[]) => b.upload(data, shape);
const down = (t: Tensor) => Array.from(b.download(t) as Float32Array);

/** y[n, out] = x[n, in] · W[out, in]ᵀ + bias, in doubles. */
function matmulT(x: ArrayLike<number>, w: ArrayLike<number>, n: number, inF: number, outF: number, bias?: ArrayLike<number>): number[] {
  const y: number[] = [];
  for (let i = 0; i < n; i++)
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k];
      y.push(s);
    }
  return y;
}

function expectClose(got: number[], want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

const floatLinear = (inF: number, outF: number, withBias = true) => {
  const w = values(outF * inF);
  const bias = withBias ? values(outF) : null;
  return { w, bias, layer: new Linear(b, { kind: 'float', weight: up(w, [outF, inF]), bias: bias ? up(bias, [outF]) : null }) };
};

describe('Linear', () => {
  it('float: y = x Wᵀ + b', () => {
    const { w, bias, layer } = floatLinear(37, 19);
    const x = values(5 * 37);
    expectClose(down(layer.forward(up(x, [5, 37]))), matmulT(x, w, 5, 37, 19, bias!), 1e-5);
    expect(() => layer.forward(up(values(36), [1, 36]))).toThrow(ShapeMismatchError);
    layer.dispose();
  });

  it('int8: W8A8 as BMInf does it, the integer reference bit for bit and near the float product', () => {
    const [n, inF, outF] = [6, 40, 24];
    const wf = values(outF * inF);
    const qw = reference.quantizeRows(wf, outF, inF);
    const bias = values(outF);
    const layer = new Linear(b, { kind: 'int8', weight: b.upload(qw.values, [outF, inF]), scale: b.upload(qw.scales, [outF]), bias: up(bias, [outF]) });
    const x = values(n * inF, 4);
    const got = down(layer.forward(up(x, [n, inF])));
    const qx = reference.quantizeRows(x, n, inF);
    const want = reference.dequantize(reference.igemm(qx.values, qw.values, n, outF, inF), qx.scales, qw.scales, bias, n, outF);
    expect(got).toEqual(Array.from(want));
    expectClose(got, matmulT(x, wf, n, inF, outF, bias), 0.05);
    layer.dispose();
  });
});

describe('LayerNorm', () => {
  const d = 33;
  const x = values(4 * d, 3);
  const w = values(d);
  const bias = values(d);
  const norm = (subtractMean: boolean) => {
    const out: number[] = [];
    for (let r = 0; r < 4; r++) {
      const row = Array.from(x.subarray(r * d, (r + 1) * d));
      const mean = subtractMean ? row.reduce((a, v) => a + v, 0) / d : 0;
      const v = row.reduce((a, t) => a + (t - mean) ** 2, 0) / d;
      for (let j = 0; j < d; j++) out.push(((row[j] - mean) / Math.sqrt(v + 1e-5)) * w[j] + (subtractMean ? bias[j] : 0));
    }
    return out;
  };

  it('with mean and bias (CPM-1)', () => {
    expectClose(down(new LayerNorm(b, up(w, [d]), up(bias, [d]), 1e-5).forward(up(x, [4, d]))), norm(true), 1e-5);
  });

  it('as an RMS norm without bias (CPM-2, EVA)', () => {
    expectClose(down(new LayerNorm(b, up(w, [d]), null, 1e-5, false).forward(up(x, [4, d]))), norm(false), 1e-5);
  });
});

describe('Embedding and PositionEmbedding', () => {
  const table = values(10 * 4);
  it('return the rows of the table, and refuse ids outside it by value', () => {
    const e = new Embedding(b, up(table, [10, 4]));
    expect(down(e.forward([3, 0, 9]))).toEqual([...table.subarray(12, 16), ...table.subarray(0, 4), ...table.subarray(36, 40)]);
    for (const bad of [10, -1, 1.5]) expect(() => e.forward([1, bad])).toThrow(new RegExp(`Token id ${bad} is out of range: the vocabulary has 10 tokens`));
  });

  it('positions start..start+n-1, and no further than the context', () => {
    const p = new PositionEmbedding(b, up(table, [10, 4]));
    expect(down(p.forward(8, 2))).toEqual(Array.from(table.subarray(32, 40)));
    expect(() => p.forward(8, 3)).toThrow(InvalidArgumentError);
    expect(() => p.forward(8, 3)).toThrow(/Positions 8\.\.10 exceed the model's context of 10 tokens/);
  });
});

describe('FeedForward', () => {
  it("is out(gelu_tanh(in(x))), GPT-2's block", () => {
    const fin = floatLinear(12, 48);
    const fout = floatLinear(48, 12);
    const x = values(3 * 12, 2);
    const h = matmulT(x, fin.w, 3, 12, 48, fin.bias!).map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    const want = matmulT(h, fout.w, 3, 48, 12, fout.bias!);
    expectClose(down(new FeedForward(b, fin.layer, fout.layer).forward(up(x, [3, 12]))), want, 1e-4);
  });
});

describe('KVCache and SelfAttention', () => {
  it('the cache appends in place and refuses to overflow', () => {
    const cache = new KVCache(b, 2, 3, 4, 'float32');
    const k = values(2 * 2 * 4);
    cache.append(up(k, [2, 2, 4]), up(k, [2, 2, 4]));
    expect(cache.length).toBe(2);
    expect(down(b.contiguous(cache.view().keys))).toEqual(Array.from(k));
    expect(() => cache.append(up(k, [2, 2, 4]), up(k, [2, 2, 4]))).toThrow(/holds 3 positions; appending 2 to 2 would overflow it/);
    cache.dispose();
  });

  it('causal attention through the cache, a prefill then one-token steps, equals attention over the whole sequence', () => {
    const [heads, dh, n] = [2, 4, 5];
    const d = heads * dh;
    const qkv = floatLinear(d, 3 * d);
    const out = floatLinear(d, d);
    const attn = new SelfAttention(b, { qkv: qkv.layer, out: out.layer, numHeads: heads, headDim: dh, scale: 1 / Math.sqrt(dh) });
    const x = values(n * d, 2);
    // The plain reference: per head, softmax over keys 0..i of q_i·k_j / √dh, then the output projection.
    const p = matmulT(x, qkv.w, n, d, 3 * d, qkv.bias!);
    const ctx: number[] = new Array(n * d).fill(0);
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < n; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let s = 0;
          for (let e = 0; e < dh; e++) s += p[i * 3 * d + h * dh + e] * p[j * 3 * d + d + h * dh + e];
          return s / Math.sqrt(dh);
        });
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, v) => a + v, 0);
        for (let j = 0; j <= i; j++) for (let e = 0; e < dh; e++) ctx[i * d + h * dh + e] += (ex[j] / z) * p[j * 3 * d + 2 * d + h * dh + e];
      }
    const want = matmulT(ctx, out.w, n, d, d, out.bias!);
    const cache = new KVCache(b, heads, n, dh, 'float32');
    const got = [...down(attn.forward(up(x.slice(0, 3 * d), [3, d]), cache, { causal: true }))];
    for (let t = 3; t < n; t++) got.push(...down(attn.forward(up(x.slice(t * d, (t + 1) * d), [1, d]), cache, { causal: true })));
    expectClose(got, want, 1e-4);
    expect(() => attn.forward(up(values(d - 1), [1, d - 1]), null, { causal: true })).toThrow(ShapeMismatchError);
    cache.dispose();
    attn.dispose();
  });
});
