import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, ShapeMismatchError, tidy } from '@bminf/core';
import { cpuBackend } from '@bminf/kernels';
import { RelativePositionBias, relativePositionBucket } from '@bminf/layers';
import { CPM2_CONFIG, Cpm2Model, fillBlank, randomCpm2Model } from '@bminf/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mat, NaiveT5 } from './cpm2-naive.js';

const DIR = join(import.meta.dirname, '../../../models/fixtures/eva-tiny');

describe('relativePositionBucket', () => {
  it('gives the buckets of transformers T5 (worked by hand from its formula)', () => {
    const enc = (r: number) => relativePositionBucket(r, true, 32, 128);
    // bidirectional: 16 buckets a side, 8 exact, then log-spaced to 128
    expect([0, -1, -7, 1, 7].map(enc)).toEqual([0, 1, 7, 17, 23]);
    // -8 → 8 + ⌊log(1)/log(16)·8⌋ = 8; -16 → 8 + 2; -127 → 8 + ⌊7.977⌋ = 15; beyond 128 stays 15
    expect([-8, -16, -127, -128, -5000].map(enc)).toEqual([8, 10, 15, 15, 15]);
    expect([8, 16, 5000].map(enc)).toEqual([24, 26, 31]);
    const dec = (r: number) => relativePositionBucket(r, false, 32, 128);
    // causal: later keys share bucket 0; 16 exact; -32 → 16 + ⌊log(2)/log(8)·16⌋ = 21
    expect([5, 0, -1, -15, -16, -32, -1000].map(dec)).toEqual([0, 0, 1, 15, 16, 21, 31]);
    // EVA's max distance 256: -64 → 8 + ⌊log(8)/log(32)·8⌋ = 12 (with 128 it would be 14)
    expect(relativePositionBucket(-64, true, 32, 256)).toBe(12);
    expect(relativePositionBucket(-64, true, 32, 128)).toBe(14);
  });
});

describe('T5 layers against a plain float64 T5', () => {
  let model: Cpm2Model;
  let naive: NaiveT5;
  beforeAll(async () => {
    model = await Cpm2Model.load(DIR, { dtype: 'fp32', device: 'cpu' });
    naive = await NaiveT5.load(DIR, JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')));
  });
  afterAll(() => model?.dispose());

  const maxDiff = (a: Float32Array, b: Mat | number[][][]) => {
    const flat = (b as unknown[]).flat(2) as number[] | Float64Array[];
    const ref = flat[0] instanceof Float64Array ? (flat as Float64Array[]).flatMap((r) => Array.from(r)) : (flat as number[]);
    expect(a.length).toBe(ref.length);
    return a.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  };

  it('builds the encoder and decoder position biases, the decoder at any step', () => {
    const m = model as unknown as { encoderBias: RelativePositionBias; decoderBias: RelativePositionBias };
    const b = model.backend;
    tidy(() => {
      expect(maxDiff(b.download(m.encoderBias.forward(0, 300, 300)) as Float32Array, naive.bias('encoder', 0, 300, 300))).toBe(0);
      expect(maxDiff(b.download(m.decoderBias.forward(0, 20, 20)) as Float32Array, naive.bias('decoder', 0, 20, 20))).toBe(0);
      // one decoder step at position 40 sees keys 0..40: row 40 of the full bias
      const row = naive.bias('decoder', 0, 41, 41).map((h) => [h[40]]);
      expect(maxDiff(b.download(m.decoderBias.forward(40, 1, 41)) as Float32Array, row)).toBe(0);
    });
  });

  it('gives the same biases by distance: column j - i + n - 1 of query i, key j', () => {
    const m = model as unknown as { encoderBias: RelativePositionBias; decoderBias: RelativePositionBias };
    const b = model.backend;
    tidy(() => {
      for (const [pb, queryStart, n, L] of [[m.encoderBias, 0, 300, 300], [m.decoderBias, 0, 20, 20], [m.decoderBias, 40, 1, 41], [m.encoderBias, 3, 4, 9]] as const) {
        const full = b.download(pb.forward(queryStart, n, L)) as Float32Array;
        const dist = b.download(pb.byDistance(queryStart, n, L)) as Float32Array;
        const H = pb.numHeads;
        expect(dist.length).toBe(H * (n + L - 1));
        let worst = 0;
        for (let h = 0; h < H; h++)
          for (let i = 0; i < n; i++)
            for (let j = 0; j < L; j++) worst = Math.max(worst, Math.abs(full[(h * n + i) * L + j] - dist[h * (n + L - 1) + j - i + n - 1]));
        expect(worst, `queryStart ${queryStart} n ${n} L ${L}`).toBe(0);
      }
      expect(() => m.encoderBias.byDistance(0, 0, 5)).toThrow(/at least 1/);
    });
  });

  it('runs the whole encoder and decoder as the plain implementation does', () => {
    const ids = Array.from({ length: 40 }, (_, i) => (i * 37) % 598);
    const enc = model.encoderOutput(ids);
    const encRef = naive.encoder(ids);
    expect(maxDiff(enc, encRef)).toBeLessThan(1e-4);
    const dec = [408, 10, 20, 30];
    const state = model.newState(ids);
    try {
      expect(maxDiff(model.decoderForward(dec, state, { allLogits: true }), naive.decoder(encRef, dec))).toBeLessThan(1e-3);
    } finally {
      state.dispose();
    }
  });

  it('grows the decoder caches past their first 64 positions', () => {
    const state = model.newState([10, 11, 12]);
    try {
      const dec = Array.from({ length: 70 }, (_, i) => 100 + i);
      const all = model.decoderForward(dec.slice(0, 60), state, { allLogits: true });
      const more = model.decoderForward(dec.slice(60), state, { allLogits: true });
      expect(state.length).toBe(70);
      const ref = naive.decoder(naive.encoder([10, 11, 12]), dec);
      expect(maxDiff(Float32Array.from([...all, ...more]), ref)).toBeLessThan(1e-3);
    } finally {
      state.dispose();
    }
  });

  it('rejects a bias table of the wrong shape and bad positions', () => {
    const b = cpuBackend();
    const t = b.zeros([16, 4], 'float32');
    expect(() => new RelativePositionBias(b, t, { numBuckets: 32, maxDistance: 128, bidirectional: true })).toThrow(ShapeMismatchError);
    const ok = new RelativePositionBias(b, t, { numBuckets: 16, maxDistance: 128, bidirectional: true });
    expect(() => ok.forward(-1, 1, 1)).toThrow(InvalidArgumentError);
    expect(() => ok.forward(0, 1.5, 1)).toThrow(/n must be a non-negative integer but is 1.5/);
    t.dispose();
  });
});

describe('randomCpm2Model', () => {
  const config = { ...CPM2_CONFIG, dModel: 64, numHeads: 2, headDim: 32, dFF: 160, numEncoderLayers: 1, numDecoderLayers: 2, vocabSize: 300 };
  it.each(['fp32', 'fp16', 'int8'] as const)('%s: builds a working model of the given shape', async (dtype) => {
    const model = randomCpm2Model(config, { dtype, device: 'cpu', seed: 7 });
    try {
      const enc = model.encoderOutput([5, 6, 7, 8]);
      expect(enc.length).toBe(4 * 64);
      expect(enc.every(Number.isFinite)).toBe(true);
      const r = await fillBlank(model, 'w1w2<span>w3', { greedy: true, maxTokens: 3 });
      expect(r.encoderIds).toEqual([6, 7, model.tokenizer.sentinelId(0), 8]);
      expect(r.ids).toHaveLength(4);
    } finally {
      model.dispose();
    }
  });

  it('needs room for the special tokens', () => {
    expect(() => randomCpm2Model({ ...config, vocabSize: 100 }, { device: 'cpu' })).toThrow(/at least 195 tokens, not 100/);
  });
});
