// The decoder layers' cross-attention k|v projections, stacked by groups of layers for resident int8
// models (Cpm2Model.crossKvStacks): one wide product a group in the planned encoder step must give each
// layer exactly what its own projection gives, and the groups must cover every layer once.
import { tidy } from '@bminf/core';
import { createCpuBackend } from '@bminf/kernels';
import { describe, expect, it } from 'vitest';
import { CROSS_KV_GROUP, Cpm2PlannedRunner, randomCpm2Model } from '../src/index.js';

const config = {
  dModel: 64,
  numHeads: 4,
  headDim: 16,
  dFF: 96,
  numEncoderLayers: 1,
  numDecoderLayers: CROSS_KV_GROUP + 2, // a full group and a short one
  numBuckets: 32,
  maxDistance: 128,
  vocabSize: 400,
  eps: 1e-6,
};

describe('stacked cross-attention k|v (int8, CPU)', () => {
  it('covers every decoder layer once, and each layer\'s rows of a group\'s product equal its own projection bit for bit', () => {
    const backend = createCpuBackend();
    const model = randomCpm2Model(config, { dtype: 'int8', device: backend, seed: 5 });
    const groups = model.crossKvStacks;
    expect(groups.map((g) => [g.first, g.count])).toEqual([[0, CROSS_KV_GROUP], [CROSS_KV_GROUP, 2]]);
    const d = config.numHeads * config.headDim;
    tidy(() => {
      const x = backend.upload(Float32Array.from({ length: 7 * config.dModel }, (_, i) => Math.sin(i * 0.37) * 2), [7, config.dModel]);
      for (const g of groups) {
        const all = backend.download(g.linear.forward(x)) as Float32Array; // [7, count · 2d]
        expect(all.length).toBe(7 * g.count * 2 * d);
        for (let j = 0; j < g.count; j++) {
          const own = backend.download(model.layers.decoderBlocks[g.first + j].cross.params.kv?.forward(x) as never) as Float32Array;
          for (let r = 0; r < 7; r++) {
            const row = all.subarray((r * g.count + j) * 2 * d, (r * g.count + j + 1) * 2 * d);
            expect(Array.from(row)).toEqual(Array.from(own.subarray(r * 2 * d, (r + 1) * 2 * d)));
          }
        }
      }
    });
    model.dispose();
    expect(backend.pool.stats.bytesInUse).toBe(0);
    backend.dispose();
  });

  it('the planned runner (stacked products) gives the greedy ids of the eager model (one product a layer)', async () => {
    const backend = createCpuBackend();
    const model = randomCpm2Model(config, { dtype: 'int8', device: backend, seed: 6 });
    const runner = new Cpm2PlannedRunner(model, 2, { maxEncoderLength: 32, maxDecoderLength: 16 });
    const enc = [5, 9, 33, 71, 2, 150, 7];
    await runner.open(0, enc);
    const planned: number[] = [];
    let id = 1;
    for (let t = 0; t < 6; t++) {
      const [logits] = await runner.step([{ slot: 0, ids: [id] }]);
      id = argmax(logits as Float32Array);
      planned.push(id);
    }
    const state = model.newState(enc);
    const eager: number[] = [];
    id = 1;
    for (let t = 0; t < 6; t++) {
      id = argmax(model.decoderForward([id], state));
      eager.push(id);
    }
    state.dispose();
    expect(planned).toEqual(eager);
    runner.dispose();
    model.dispose();
    backend.dispose();
  });
});

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
