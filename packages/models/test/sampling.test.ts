import { InvalidArgumentError } from '@bminf/core';
import { describe, expect, it } from 'vitest';
import { CpuBackend, argmaxFloat32, nativeCpu, sampleRowsFloat32, samplingDistributionFloat32 } from '@bminf/kernels';
import {
  TokenCounts,
  Xoshiro128StarStar,
  applyPenalties,
  argmax,
  createSampler,
  samplingDistribution,
  validateSamplingOptions,
} from '../src/generation/sampling.js';
import { penaltyArrays } from '../src/generation/sampling-distribution.js';
import type { SamplingOptions } from '../src/generation/sampling.js';

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
const resolved = (o: SamplingOptions) => validateSamplingOptions(o);

/** The kept set and probabilities computed the slow, obvious way: sort everything. */
function bruteForce(logits: Float32Array, counts: TokenCounts | undefined, o: SamplingOptions) {
  const r = resolved(o);
  const x = Array.from(logits, (v, i) => {
    const c = counts?.get(i) ?? 0;
    const y = v - (r.frequencyPenalty * c + r.presencePenalty * (c > 0 ? 1 : 0));
    return Number.isNaN(y) ? -Infinity : y;
  });
  let ids = x.map((_, i) => i).filter((i) => x[i] > -Infinity);
  if (r.topK > 0 && r.topK < ids.length) {
    const kth = ids.map((i) => x[i]).sort((a, b) => b - a)[r.topK - 1];
    ids = ids.filter((i) => x[i] >= kth);
  }
  const max = Math.max(...ids.map((i) => x[i]));
  const w = new Map(ids.map((i) => [i, Math.exp((x[i] - max) / r.temperature)]));
  const total = [...w.values()].reduce((a, b) => a + b, 0);
  if (r.topP < 1) {
    const order = [...ids].sort((a, b) => w.get(b)! - w.get(a)! || a - b);
    const kept: number[] = [];
    let above = 0;
    for (const i of order) {
      if (kept.length > 0 && above >= r.topP) break;
      kept.push(i);
      above += w.get(i)! / total;
    }
    ids = kept.sort((a, b) => a - b);
  }
  const sum = ids.reduce((a, i) => a + w.get(i)!, 0);
  return { ids, probs: ids.map((i) => w.get(i)! / sum) };
}

describe('validateSamplingOptions', () => {
  it('fills in the defaults', () => {
    expect(validateSamplingOptions({})).toEqual({
      greedy: false,
      temperature: 1,
      topK: 0,
      topP: 1,
      frequencyPenalty: 0,
      presencePenalty: 0,
      seed: undefined,
    });
  });

  it('accepts the edges of each range', () => {
    expect(() =>
      validateSamplingOptions({ temperature: 1e-6, topP: 1, topK: 0, frequencyPenalty: -2, presencePenalty: 0, seed: -5 }),
    ).not.toThrow();
    expect(() => validateSamplingOptions({ greedy: true, temperature: 0 })).not.toThrow();
    expect(() => validateSamplingOptions({ seed: Number.MAX_SAFE_INTEGER, topP: 1e-9 })).not.toThrow();
  });

  it.each<[SamplingOptions, RegExp]>([
    [{ temperature: 0 }, /temperature to be a finite number > 0 but received 0\..*greedy: true/],
    [{ temperature: -1 }, /temperature .* > 0 but received -1/],
    [{ temperature: Number.POSITIVE_INFINITY }, /temperature .* received Infinity/],
    [{ temperature: Number.NaN }, /temperature .* received NaN/],
    [{ greedy: true, temperature: -1 }, /temperature .* ≥ 0/],
    [{ temperature: '1' as unknown as number }, /temperature .* received "1"/],
    [{ topP: 0 }, /topP to be a number in \(0, 1\] .* received 0\./],
    [{ topP: 1.5 }, /topP .* received 1\.5/],
    [{ topP: Number.NaN }, /topP .* NaN/],
    [{ topK: -1 }, /topK to be an integer ≥ 0 .* received -1/],
    [{ topK: 2.5 }, /topK .* 2\.5/],
    [{ frequencyPenalty: Number.NaN }, /frequencyPenalty to be a finite number but received NaN/],
    [{ presencePenalty: Number.NEGATIVE_INFINITY }, /presencePenalty .* -Infinity/],
    [{ seed: 1.5 }, /seed to be an integer in \[-9007199254740991, 9007199254740991\] but received 1\.5/],
    [{ seed: 2 ** 53 }, /seed .* 9007199254740992/],
    [{ greedy: 'yes' as unknown as boolean }, /greedy to be true or false/],
  ])('rejects %o', (opts, message) => {
    expect(() => validateSamplingOptions(opts)).toThrow(InvalidArgumentError);
    expect(() => validateSamplingOptions(opts)).toThrow(message);
    expect(() => createSampler(opts)).toThrow(InvalidArgumentError);
  });

  it('rejects a non-object', () => {
    expect(() => validateSamplingOptions(5 as unknown as SamplingOptions)).toThrow(/sampling options to be an object/);
  });
});

describe('Xoshiro128StarStar', () => {
  // First outputs of the reference C code (xoshiro128** 1.1, state from two SplitMix64 outputs:
  // s0 = lo(a), s1 = hi(a), s2 = lo(b), s3 = hi(b)), compiled and run for these seeds.
  it.each([
    [0, [3737715805, 2584255861, 2876756834, 3286328325, 1553311962, 1625202774]],
    [42, [1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222]],
    [-7, [2770651774, 585381616, 711422325, 2297772603, 2628463860, 4186259087]],
  ])('seed %i gives the reference sequence', (seed, expected) => {
    const rng = new Xoshiro128StarStar(seed);
    expect(expected.map(() => rng.nextUint32())).toEqual(expected);
  });

  it('gives doubles in [0, 1) with a mean near 1/2', () => {
    const rng = new Xoshiro128StarStar(1);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = rng.nextFloat64();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    // standard deviation of the mean: sqrt(1/12 / 1e5) ≈ 0.0009
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.005);
  });

  it('rejects a seed that is not a safe integer', () => {
    expect(() => new Xoshiro128StarStar(0.5)).toThrow(InvalidArgumentError);
  });
});

describe('argmax and greedy', () => {
  it('takes the lowest id on ties and never NaN', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([Number.NaN, -5, Number.NaN, -5])).toBe(1);
    expect(argmax([-Infinity, -Infinity, -1e30])).toBe(2);
  });

  it('gives the JS loop\'s answer on large Float32Arrays (taken natively, on every kernel path)', () => {
    const loop = (x: ArrayLike<number>) => {
      let best = -1;
      for (let i = 0; i < x.length; i++) if (x[i] > (best < 0 ? -Infinity : x[best])) best = i;
      return best;
    };
    let seed = 5;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const cases: Float32Array[] = [];
    for (const n of [256, 257, 263, 8000, 30001]) {
      const x = Float32Array.from({ length: n }, () => next() * 20 - 10);
      cases.push(x);
      const ties = x.slice();
      ties[n - 1] = ties[7] = ties[n >> 1] = 50; // the lowest of equal maxima
      cases.push(ties);
      const nan = x.slice();
      for (let i = 0; i < n; i += 3) nan[i] = Number.NaN; // NaN never wins, wherever it is
      nan[n - 2] = 99;
      cases.push(nan);
      const neg = new Float32Array(n).fill(-Infinity);
      neg[n - 1] = -3e38; // only the last is usable, in the scalar tail
      cases.push(neg);
      cases.push(x.subarray(3, 3 + 256)); // a view at an offset
    }
    for (const isa of CpuBackend.kernelInfo().isas) {
      CpuBackend.setIsa(isa);
      try {
        cases.forEach((x, i) => expect(argmax(x), `${isa} case ${i}`).toBe(loop(x)));
        expect(() => argmax(new Float32Array(300).fill(Number.NaN))).toThrow(/NaN or -Infinity/);
        expect(argmaxFloat32(new Float32Array(0))).toBe(-1);
        expect(() => argmaxFloat32([1, 2] as never)).toThrow(InvalidArgumentError);
      } finally {
        CpuBackend.setIsa(null);
      }
    }
  });

  it('refuses logits with no usable value', () => {
    expect(() => argmax([Number.NaN, -Infinity])).toThrow(InvalidArgumentError);
    expect(() => argmax([Number.NaN, -Infinity])).toThrow(/NaN or -Infinity/);
    expect(() => createSampler({ seed: 1 }).sample(f32([Number.NaN, -Infinity]))).toThrow(/no token can be chosen/);
  });

  it('greedy is the argmax of the penalised logits', () => {
    const logits = f32([1, 2, 1.5, 2]);
    expect(createSampler({ greedy: true }).sample(logits)).toBe(1);
    const counts = new TokenCounts([1, 1]);
    // 2 − (0.3·2 + 0.1) = 1.3 for id 1, so id 3 (2, uncounted) wins
    expect(createSampler({ greedy: true, frequencyPenalty: 0.3, presencePenalty: 0.1 }).sample(logits, counts)).toBe(3);
    expect(createSampler({ greedy: true }).seed).toBeUndefined();
  });
});

describe('penalties', () => {
  it('subtract frequency · count + presence · [count > 0], counts starting from the prompt', () => {
    const logits = f32([0.5, -1, 2, 4]);
    const counts = new TokenCounts([2, 2, 0]);
    counts.add(2);
    expect([counts.get(0), counts.get(1), counts.get(2), counts.size]).toEqual([1, 0, 3, 2]);
    const out = applyPenalties(logits, counts, 0.25, 1.5);
    expect(Array.from(out)).toEqual([0.5 - 0.25 - 1.5, -1, 2 - 0.75 - 1.5, 4]);
    expect(Array.from(logits)).toEqual([0.5, -1, 2, 4]); // the input is left alone
    expect(Array.from(applyPenalties(logits, counts, 0, 0))).toEqual([0.5, -1, 2, 4]);
  });

  it('negative penalties favour repeats', () => {
    const out = applyPenalties(f32([0, 0]), new TokenCounts([1]), -1, -0.5);
    expect(Array.from(out)).toEqual([0, 1.5]);
  });

  it('refuse counted ids outside the logits and bad ids in TokenCounts', () => {
    const counts = new TokenCounts([7]);
    expect(() => applyPenalties(f32([0, 0]), counts, 1, 0)).toThrow(/counted token id \(7\).*vocabulary of 2/);
    expect(() => new TokenCounts([1, -1])).toThrow(InvalidArgumentError);
    expect(() => new TokenCounts().add(1.5)).toThrow(/integer ≥ 0.*1\.5/);
  });
});

describe('samplingDistribution', () => {
  it('applies the temperature to a plain softmax', () => {
    const logits = f32([1, 2, 0.5]);
    const d = samplingDistribution(logits, undefined, resolved({ temperature: 0.5 }));
    const e = [1, 2, 0.5].map((v) => Math.exp((v - 2) / 0.5));
    const s = e.reduce((a, b) => a + b);
    expect(Array.from(d.ids)).toEqual([0, 1, 2]);
    d.probs.forEach((p, j) => expect(p).toBeCloseTo(e[j] / s, 12));
  });

  it('top-k keeps the k largest, and every tie at the k-th value', () => {
    const logits = f32([0, 5, 3, 5, 1, 4]);
    expect(Array.from(samplingDistribution(logits, undefined, resolved({ topK: 3 })).ids)).toEqual([1, 3, 5]);
    expect(Array.from(samplingDistribution(logits, undefined, resolved({ topK: 1 })).ids)).toEqual([1, 3]);
    expect(Array.from(samplingDistribution(logits, undefined, resolved({ topK: 6 })).ids)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('top-p keeps the most likely tokens until their mass reaches p, at least one', () => {
    // probabilities 0.5, 0.2, 0.15, 0.1, 0.05 placed at ids 3, 0, 4, 1, 2
    const p = [0.2, 0.1, 0.05, 0.5, 0.15];
    const logits = f32(p.map(Math.log));
    const kept = (topP: number) => Array.from(samplingDistribution(logits, undefined, resolved({ topP })).ids);
    expect(kept(0.1)).toEqual([3]);
    expect(kept(0.6)).toEqual([0, 3]);
    expect(kept(0.75)).toEqual([0, 3, 4]);
    expect(kept(0.9)).toEqual([0, 1, 3, 4]);
    expect(kept(1)).toEqual([0, 1, 2, 3, 4]);
    const d = samplingDistribution(logits, undefined, resolved({ topP: 0.75 }));
    const s = 0.2 + 0.5 + 0.15;
    [0.2 / s, 0.5 / s, 0.15 / s].forEach((q, j) => expect(d.probs[j]).toBeCloseTo(q, 6));
  });

  it('runs penalties, temperature, top-k, top-p in that order', () => {
    // penalties move id 0 from first to last; top-k 3 then drops it; top-p works on the renormalised rest
    const logits = f32([10, 3, 2, 1]);
    const counts = new TokenCounts([0, 0]);
    const o = { frequencyPenalty: 5, topK: 3, topP: 0.8, temperature: 0.7 };
    const d = samplingDistribution(logits, counts, resolved(o));
    const b = bruteForce(logits, counts, o);
    expect(Array.from(d.ids)).toEqual(b.ids);
    expect(b.ids).toEqual([1, 2]);
    d.probs.forEach((q, j) => expect(q).toBeCloseTo(b.probs[j], 12));
  });

  it('matches the brute-force computation on large random vocabularies', () => {
    const rng = new Xoshiro128StarStar(123);
    const options: SamplingOptions[] = [
      { topP: 0.9 },
      { topP: 0.5, temperature: 0.7 },
      { topP: 0.99, temperature: 1.3, topK: 500 },
      { topK: 40 },
      { topP: 0.3, temperature: 0.2, frequencyPenalty: 0.5, presencePenalty: 0.2 },
    ];
    for (const o of options) {
      const logits = new Float32Array(30000);
      for (let i = 0; i < logits.length; i++) logits[i] = (rng.nextFloat64() - 0.5) * 16;
      const counts = new TokenCounts(Array.from({ length: 200 }, () => rng.nextUint32() % 30000));
      const d = samplingDistribution(logits, counts, resolved(o));
      const b = bruteForce(logits, counts, o);
      expect(Array.from(d.ids)).toEqual(b.ids);
      d.probs.forEach((q, j) => expect(q).toBeCloseTo(b.probs[j], 12));
    }
  });

  it('treats NaN as excluded and shares all probability among +Infinity logits', () => {
    const d = samplingDistribution(f32([1, Number.NaN, 2]), undefined, resolved({}));
    expect(Array.from(d.ids)).toEqual([0, 2]);
    const inf = samplingDistribution(f32([1, Infinity, 2, Infinity]), undefined, resolved({}));
    expect(Array.from(inf.ids)).toEqual([1, 3]);
    expect(Array.from(inf.probs)).toEqual([0.5, 0.5]);
  });

  it('stays finite at extreme temperatures', () => {
    const logits = f32([1, 3, 2]);
    const cold = samplingDistribution(logits, undefined, resolved({ temperature: Number.MIN_VALUE }));
    expect(Array.from(cold.probs)).toEqual([0, 1, 0]);
    const hot = samplingDistribution(logits, undefined, resolved({ temperature: 1e300 }));
    hot.probs.forEach((p) => expect(p).toBeCloseTo(1 / 3, 12));
  });

  it('rejects logits that are not a non-empty Float32Array', () => {
    const s = createSampler({ seed: 1 });
    expect(() => s.sample([1, 2] as unknown as Float32Array)).toThrow(InvalidArgumentError);
    expect(() => s.sample([1, 2] as unknown as Float32Array)).toThrow(/Float32Array but received Array/);
    expect(() => s.sample(new Float32Array(0))).toThrow(/received an empty array/);
    expect(() => createSampler({ greedy: true }).sample(new Float32Array(0))).toThrow(InvalidArgumentError);
    expect(() => s.sample(f32([1]), {} as TokenCounts)).toThrow(/TokenCounts/);
  });
});

describe('createSampler draws', () => {
  it('never draws an excluded token and matches the renormalised probabilities', () => {
    // 12 tokens; top-k 8 drops 4, top-p 0.9 drops more of the tail
    const logits = f32([2.0, 1.5, -0.5, 1.0, 0.2, 0.9, -1.0, 0.0, 1.2, -3.0, 0.5, 0.4]);
    const o = { seed: 2024, topK: 8, topP: 0.9, temperature: 0.8 };
    const expected = bruteForce(logits, undefined, o);
    expect(expected.ids.length).toBeGreaterThan(2);
    expect(expected.ids.length).toBeLessThan(8);
    const sampler = createSampler(o);
    const n = 200_000;
    const hits = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const id = sampler.sample(logits);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    expect([...hits.keys()].sort((a, b) => a - b)).toEqual(expected.ids);
    expected.ids.forEach((id, j) => {
      const p = expected.probs[j];
      const sigma = Math.sqrt((p * (1 - p)) / n);
      // 5 standard deviations: a false failure is a one-in-a-million event (and the seed is fixed)
      expect(Math.abs(hits.get(id)! / n - p)).toBeLessThan(5 * sigma);
    });
  });

  it('the same seed gives the same sequence; another seed another one', () => {
    const logits = new Float32Array(1000).map((_, i) => Math.sin(i) * 3);
    const draw = (seed: number, o: SamplingOptions = {}) => {
      const s = createSampler({ ...o, seed });
      const counts = new TokenCounts();
      return Array.from({ length: 64 }, () => {
        const id = s.sample(logits, counts);
        counts.add(id);
        return id;
      });
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7, { topP: 0.8, frequencyPenalty: 0.5 })).toEqual(draw(7, { topP: 0.8, frequencyPenalty: 0.5 }));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('without a seed picks a random one, reported so the run can be repeated', () => {
    const logits = new Float32Array(100).map((_, i) => Math.cos(i));
    const a = createSampler({});
    expect(Number.isSafeInteger(a.seed)).toBe(true);
    const b = createSampler({ seed: a.seed });
    const seqA = Array.from({ length: 32 }, () => a.sample(logits));
    const seqB = Array.from({ length: 32 }, () => b.sample(logits));
    expect(seqA).toEqual(seqB);
    expect(createSampler({}).seed).not.toBe(a.seed); // 2^-53 chance of a false failure
  });

  it('a draw with one candidate always returns it', () => {
    const s = createSampler({ seed: 3, topK: 1 });
    for (let i = 0; i < 100; i++) expect(s.sample(f32([0, 1, 9, 2]))).toBe(2);
  });
});

// Float32 logits are sampled natively (native/src/cpu/sample.cc); samplingDistribution (TypeScript, on
// the same values as float64) is the reference it must equal: the same candidates, probabilities equal
// up to e^x's last bits, and so the same token for the same draw.
describe('the native sampler against the TypeScript reference', () => {
  let seed = 11;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const vocabulary = (n: number, spread: number) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * spread);
  const settings: SamplingOptions[] = [
    {},
    { temperature: 0.7 },
    { temperature: 5 },
    { temperature: 1e-3 },
    { topK: 1 },
    { topK: 50 },
    { topK: 1_000_000 },
    { topP: 0.9 },
    { topP: 0.5, temperature: 0.8 },
    { topP: 1e-9 },
    { topK: 40, topP: 0.95, frequencyPenalty: 0.5, presencePenalty: 0.3 },
    { frequencyPenalty: -0.4, presencePenalty: 1.5 },
  ];
  const native = (logits: Float32Array, counts: TokenCounts | undefined, o: SamplingOptions) => {
    const r = resolved(o);
    return samplingDistributionFloat32(logits, {
      ...penaltyArrays(counts, logits.length, r.frequencyPenalty, r.presencePenalty),
      frequencyPenalty: r.frequencyPenalty, presencePenalty: r.presencePenalty, temperature: r.temperature, topK: r.topK, topP: r.topP,
    });
  };

  it('gives the reference distribution (ids exactly, probabilities to 1e-12), on every kernel path', () => {
    const cases: Float32Array[] = [];
    for (const [n, spread] of [[7, 3], [1000, 8], [26240, 12], [30001, 40]] as const) {
      const x = vocabulary(n, spread);
      cases.push(x);
      const odd = x.slice();
      for (let i = 0; i < n; i += 5) odd[i] = Number.NaN; // NaN is never a candidate
      odd[n - 1] = -Infinity;
      cases.push(odd);
      const ties = x.slice();
      ties[1] = ties[n >> 1] = ties[n - 2] = 30; // equal weights at the top: top-p keeps the lowest ids first
      cases.push(ties);
    }
    const counts = new TokenCounts([0, 0, 1, 3, 3, 3, 6]);
    for (const isa of CpuBackend.kernelInfo().isas) {
      CpuBackend.setIsa(isa);
      try {
        cases.forEach((logits, c) => {
          for (const o of settings) {
            const tag = `${isa} case ${c} ${JSON.stringify(o)}`;
            const want = samplingDistribution(Float64Array.from(logits), counts, resolved(o));
            const got = native(logits, counts, o);
            expect(got, tag).not.toBeNull();
            expect(Array.from(got!.ids), tag).toEqual(Array.from(want.ids));
            let err = 0;
            want.probs.forEach((p, j) => (err = Math.max(err, Math.abs(got!.probs[j] - p))));
            expect(err, tag).toBeLessThan(1e-12);
          }
        });
      } finally {
        CpuBackend.setIsa(null);
      }
    }
  });

  it('draws the reference\'s tokens for the same seed (float32 logits natively, float64 through TypeScript)', () => {
    const logits = vocabulary(26240, 10);
    for (const o of settings) {
      const a = createSampler({ ...o, seed: 99 });
      const b = createSampler({ ...o, seed: 99 });
      const ca = new TokenCounts([5, 6, 7]);
      const cb = new TokenCounts([5, 6, 7]);
      const wide = Float64Array.from(logits);
      for (let t = 0; t < 300; t++) {
        const x = a.sample(logits, ca);
        const y = b.sample(wide, cb);
        expect(x, `${JSON.stringify(o)} draw ${t}`).toBe(y);
        ca.add(x);
        cb.add(y);
      }
    }
  });

  it('samples many rows in one call (sampleRowsFloat32, on the thread pool) as one call a row does', () => {
    const rows = Array.from({ length: 37 }, (_, r) => {
      const o = resolved(settings[r % settings.length]);
      const logits = vocabulary(r % 3 === 0 ? 30001 : 1000 + r, 6);
      if (r === 5) logits.fill(Number.NaN); // no usable logit: -1 for that row alone
      const counts = new TokenCounts([r, r + 1, r + 1]);
      const params = { ...penaltyArrays(counts, logits.length, o.frequencyPenalty, o.presencePenalty), frequencyPenalty: o.frequencyPenalty, presencePenalty: o.presencePenalty, temperature: o.temperature, topK: o.topK, topP: o.topP };
      return { logits, params, u: next() };
    });
    const one = rows.map((r) => (nativeCpu.sample(r.logits, 0, r.logits.length, r.params.penaltyIds, r.params.penaltyCounts, r.params.penaltyIds.length, r.params.frequencyPenalty, r.params.presencePenalty, r.params.temperature, r.params.topK, r.params.topP, r.u) as number));
    expect(one[5]).toBe(-1);
    expect(Array.from(sampleRowsFloat32(rows))).toEqual(one);
    expect(sampleRowsFloat32([]).length).toBe(0);
    const bad = (change: Partial<(typeof rows)[0]['params']> & { u?: number }) => () =>
      sampleRowsFloat32([rows[0], { ...rows[1], params: { ...rows[1].params, ...change }, u: change.u ?? rows[1].u }]);
    expect(bad({ u: 1 })).toThrow(/u must lie in \[0, 1\) \(row 1\)/);
    expect(bad({ temperature: 0 })).toThrow(/temperature/);
    expect(bad({ topP: 1.5 })).toThrow(/topP/);
    expect(bad({ topK: 2.5 })).toThrow(/topK/);
    expect(bad({ penaltyIds: Int32Array.from([1e6]), penaltyCounts: Int32Array.from([1]) })).toThrow(/outside \[0, n\)/);
    expect(bad({ penaltyIds: Int32Array.from([1]), penaltyCounts: new Int32Array(0) })).toThrow(/differ in length/);
  });

  it('treats +Infinity and all-unusable logits as the reference does', () => {
    const inf = f32([1, Infinity, 3, Infinity, Number.NaN]);
    expect(native(inf, undefined, {})).toEqual({ ids: Int32Array.from([1, 3]), probs: Float64Array.from([0.5, 0.5]) });
    expect(native(f32([Number.NaN, -Infinity]), undefined, {})).toBeNull();
    expect(() => createSampler({ seed: 1 }).sample(f32([Number.NaN, -Infinity]))).toThrow(/NaN or -Infinity/);
    // a subnormal temperature: only the maximum is left (the reference divides; 0 · ∞ would make NaN)
    expect(native(f32([1, 2, 2, 0]), undefined, { temperature: 1e-310 })).toEqual({ ids: Int32Array.from([0, 1, 2, 3]), probs: Float64Array.from([0, 0.5, 0.5, 0]) });
  });

  it('refuses bad arguments with errors, never a crash', () => {
    const x = vocabulary(100, 3);
    const none = new Int32Array(0);
    const call = (...a: unknown[]) => () => (nativeCpu.sample as (...args: unknown[]) => unknown)(...a);
    expect(call(x, 0, 100, none, none, 0, 0, 0, 1, 0, 1, 1)).toThrow(/u must lie/);
    expect(call(x, 0, 100, none, none, 0, 0, 0, 0, 0, 1, 0.5)).toThrow(/temperature/);
    expect(call(x, 0, 100, none, none, 0, 0, 0, 1, 0, 0, 0.5)).toThrow(/topP/);
    expect(call(x, 0, 101, none, none, 0, 0, 0, 1, 0, 1, 0.5)).toThrow(RangeError);
    expect(call(x, 0, 100, Int32Array.from([100]), Int32Array.from([1]), 1, 1, 0, 1, 0, 1, 0.5)).toThrow(/outside \[0, n\)/);
    expect(call(x, 0, 100, Int32Array.from([1]), none, 1, 1, 0, 1, 0, 1, 0.5)).toThrow(RangeError);
    expect(call(Float64Array.from(x), 0, 100, none, none, 0, 0, 0, 1, 0, 1, 0.5)).toThrow(TypeError);
    expect(() => createSampler({ seed: 1, frequencyPenalty: 1 }).sample(x, new TokenCounts([100]))).toThrow(/outside the logits' vocabulary/);
  });
});
