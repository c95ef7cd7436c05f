// The planned runners on CUDA: every step recorded as one CUDA graph gives logits identical bit for
// bit to the same plan run kernel by kernel; batched sequences get the ids they get alone; tiny-cpm1's
// reference greedy ids hold; the event loop stays free while generating; many requests leave the
// device pool where it started. Skips, saying why, where no usable GPU is present.
import { join } from 'node:path';
import type { ModelDType } from '@bminf/core';
import { type CudaBackend, cudaAvailability } from '@bminf/kernels';
import { Cpm1Model, Cpm1PlannedRunner, Cpm2Model, Cpm2PlannedRunner, Engine, type ModelRunner } from '@bminf/models';
import { describe, expect, it } from 'vitest';
import { reference, tinyDir } from '../test/helpers.js';

const avail = cudaAvailability();
if (!avail.available) console.log(`[gpu tests] engine skipped: CUDA is unavailable: ${avail.reason}`);
const FIXTURES = join(import.meta.dirname, '../../../models/fixtures');

async function drain<C, R>(it: AsyncGenerator<C, R, void>): Promise<R> {
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

/** Feeds both runners the same steps and expects identical logits every time. */
async function sameLogits(a: ModelRunner, b: ModelRunner, encoder: number[][] | null, prompts: number[][], steps: number) {
  for (let s = 0; s < prompts.length; s++) {
    await a.open(s, encoder ? encoder[s] : null);
    await b.open(s, encoder ? encoder[s] : null);
  }
  let inputs = prompts.map((p, slot) => ({ slot, ids: p }));
  for (let t = 0; t < steps; t++) {
    const la = await a.step(inputs);
    const lb = await b.step(inputs);
    la.forEach((l, i) => expect(l, `step ${t} slot ${i}`).toEqual(lb[i]));
    inputs = inputs.filter((_, i) => i !== t % 3).map((it, i) => ({ slot: it.slot, ids: [(7 * t + 13 * i) % 500] }));
    if (inputs.length === 0) break;
  }
}

describe.skipIf(!avail.available)('planned runners on CUDA', () => {
  it.each(['fp16', 'int8'] as ModelDType[])('tiny-cpm1 %s: recorded steps equal the op-by-op plan bit for bit', async (dtype) => {
    const model = await Cpm1Model.load(tinyDir, { dtype, device: 'cuda' });
    const recorded = new Cpm1PlannedRunner(model, 4, 256);
    const opByOp = new Cpm1PlannedRunner(model, 4, 256, false);
    try {
      await sameLogits(recorded, opByOp, null, reference.slice(0, 4).map((c) => c.prompt_ids), 12);
    } finally {
      recorded.dispose();
      opByOp.dispose();
      model.dispose();
    }
  });

  it.each(['cpm2-tiny', 'eva-tiny'])('%s int8 and fp16: recorded steps equal the op-by-op plan bit for bit', async (name) => {
    for (const dtype of ['fp16', 'int8'] as ModelDType[]) {
      const model = await Cpm2Model.load(join(FIXTURES, name), { dtype, device: 'cuda' });
      const recorded = new Cpm2PlannedRunner(model, 3);
      const opByOp = new Cpm2PlannedRunner(model, 3, { record: false });
      try {
        const enc = [[5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27], [30]];
        await sameLogits(recorded, opByOp, enc, [[2, 3], [2], [2, 40, 41]], 10);
      } finally {
        recorded.dispose();
        opByOp.dispose();
        model.dispose();
      }
    }
  });

  it.each(['fp32', 'fp16', 'int8'] as ModelDType[])('tiny-cpm1 %s: the reference prompts in one batch, and each alone, give the same greedy ids', async (dtype) => {
    const model = await Cpm1Model.load(tinyDir, { dtype, device: 'cuda' });
    try {
      const batch = new Engine(model, { maxBatch: reference.length });
      const together = await Promise.all(reference.map((c) => drain(batch.generate(c.prompt_ids, { greedy: true, maxTokens: 48 }))));
      await batch.close();
      const solo = new Engine(model, { maxBatch: 1 });
      for (let i = 0; i < reference.length; i++) {
        const alone = await drain(solo.generate(reference[i].prompt_ids, { greedy: true, maxTokens: 48 }));
        expect(together[i].ids, `prompt ${i}`).toEqual(alone.ids);
        if (dtype === 'int8') continue;
        const p = alone.ids.findIndex((id, j) => id !== reference[i].greedy_ids[j]);
        if (p >= 0) console.log(`[gpu] planned tiny-cpm1 ${dtype} prompt ${i}: differs from transformers at new token ${p}`);
        // fp32 exactly; fp16 may flip the documented near-tie of prompt 0
        if (dtype === 'fp32' || i !== 0) expect(alone.ids, `prompt ${i}`).toEqual(reference[i].greedy_ids);
      }
      await solo.close();
    } finally {
      model.dispose();
    }
  });

  it('keeps the event loop free while a long prompt generates (10 ms timer, p99 lateness ≤ 20 ms)', async () => {
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cuda' });
    const engine = new Engine(model, { maxBatch: 4 });
    try {
      const prompt = Array.from({ length: 300 }, (_, i) => 10 + ((i * 37) % 7000));
      // steps are planned (and cublasLt tuned) once, on first use: plan them before the clock runs
      await drain(engine.generate(prompt, { greedy: true, maxTokens: 2 }));
      const late: number[] = [];
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        late.push(now - last - 10);
        last = now;
      }, 10);
      // a second of generation: rounds of three long prompts decoding 200 tokens each
      const t0 = performance.now();
      while (performance.now() - t0 < 1000) await Promise.all([0, 1, 2].map(() => drain(engine.generate(prompt, { greedy: true, maxTokens: 200 }))));
      clearInterval(timer);
      late.sort((a, b) => a - b);
      const p99 = late[Math.floor(late.length * 0.99)];
      console.log(`[gpu] event loop: ${late.length} ticks, p99 lateness ${p99.toFixed(2)} ms`);
      expect(late.length).toBeGreaterThan(50);
      expect(p99).toBeLessThanOrEqual(20);
    } finally {
      await engine.close();
      model.dispose();
    }
  });

  it('1000 batched requests of random lengths leave the device pool at its starting level', async () => {
    const model = await Cpm1Model.load(tinyDir, { dtype: 'int8', device: 'cuda' });
    const pool = (model.backend as CudaBackend).pool;
    const engine = new Engine(model, { maxBatch: 16 });
    let seed = 1;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const requests = (count: number) =>
      Promise.all(Array.from({ length: count }, () => drain(engine.generate(Array.from({ length: 1 + rnd(40) }, () => 10 + rnd(7000)), { maxTokens: 1 + rnd(8), seed: rnd(1000) }))));
    // Steps are planned once per prompt-length bucket and batch size bucket, then kept: plan them all first.
    await engine.prepare(40);
    await requests(100);
    const start = pool.stats().bytesInUse;
    await requests(1000);
    expect(pool.stats().bytesInUse).toBe(start);
    await engine.close();
    model.dispose();
  });
});
