// The engine batches independent sequences into shared steps: every sequence must get the ids it
// would get decoded alone, whatever joins or leaves the batch around it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cpm1Model, Engine, type GenerateOptions } from '../src/index.js';
import { reference, tinyDir } from './helpers.js';

async function generate(engine: Engine, prompt: string | number[], options: GenerateOptions) {
  const it = engine.generate(prompt, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

const prompts = ['床前明月光，', '春眠不觉晓，处处闻啼鸟。', '白日', '人生得意须尽欢，莫使金樽空对月。天生我材必有用，', '海上生明月'];

describe.each(['int8', 'fp32'] as const)('Engine on tiny-cpm1 (%s, CPU)', (dtype) => {
  let model: Cpm1Model;
  beforeAll(async () => {
    model = await Cpm1Model.load(tinyDir, { dtype, device: 'cpu' });
  });
  afterAll(() => model.dispose());

  it('gives each batched sequence the greedy ids it gets alone, with sequences joining and leaving mid-batch', async () => {
    // Different prompt lengths and max tokens: short requests leave while long ones go on, and the
    // late requests join a batch that is already decoding.
    const maxTokens = [24, 7, 31, 12, 18];
    // Alone: the same runner with one sequence at a time.
    const solo = new Engine(model, { maxBatch: 1 });
    const alone = [];
    for (let i = 0; i < prompts.length; i++) alone.push(await generate(solo, prompts[i], { greedy: true, maxTokens: maxTokens[i] }));
    await solo.close();
    const engine = new Engine(model, { maxBatch: 3 });
    const sizes: number[] = [];
    const run = async (i: number, delaySteps: number) => {
      for (let s = 0; s < delaySteps; s++) await new Promise((r) => setImmediate(r));
      const it = engine.generate(prompts[i], { greedy: true, maxTokens: maxTokens[i] });
      for (;;) {
        const r = await it.next();
        sizes.push(engine.stats.lastBatchSize);
        if (r.done) return r.value;
      }
    };
    const batched = await Promise.all(prompts.map((_, i) => run(i, i * 3)));
    batched.forEach((r, i) => {
      expect(r.ids, `prompt ${i}`).toEqual(alone[i].ids);
      expect(r.text).toBe(alone[i].text);
    });
    expect(Math.max(...sizes)).toBe(3); // sequences really shared steps
    expect(engine.stats.waiting).toBe(0);
    await engine.close();
    expect(engine.stats.running).toBe(0);
  });

  it('samples each batched sequence as generate() samples it alone (one native call a step, the same tokens for the same seeds)', async () => {
    const { generate: generateAlone } = await import('../src/generation/generate.js');
    const settings: GenerateOptions[] = [
      { temperature: 0.9, seed: 1 },
      { temperature: 1.3, topP: 0.9, seed: 2 },
      { topK: 20, frequencyPenalty: 0.5, presencePenalty: 0.2, seed: 3 },
      { temperature: 0.7, topK: 50, topP: 0.95, seed: 4 },
      { temperature: 1, seed: 5 },
    ];
    const maxTokens = [20, 9, 26, 14, 17];
    // Alone: in float32, without an engine (the model's own forward passes, whose logits the engine's
    // steps match bit for bit, and createSampler().sample on each); in int8, whose planned steps round
    // otherwise than the eager forward, on an engine of one sequence at a time.
    const solo = new Engine(model, { maxBatch: 1 });
    const alone = [];
    for (let i = 0; i < prompts.length; i++) {
      const options = { ...settings[i], maxTokens: maxTokens[i], stopTokens: [] };
      alone.push(dtype === 'fp32' ? await generateAlone(model, prompts[i], options) : await generate(solo, prompts[i], options));
    }
    await solo.close();
    const engine = new Engine(model, { maxBatch: 4 });
    let largest = 0;
    const batched = await Promise.all(
      prompts.map(async (p, i) => {
        const it = engine.generate(p, { ...settings[i], maxTokens: maxTokens[i], stopTokens: [] });
        for (;;) {
          const r = await it.next();
          largest = Math.max(largest, engine.stats.lastBatchSize);
          if (r.done) return r.value;
        }
      }),
    );
    batched.forEach((r, i) => expect(r.ids, `prompt ${i} ${JSON.stringify(settings[i])}`).toEqual(alone[i].ids));
    expect(largest).toBeGreaterThan(1); // sequences really shared steps, and so their sampling call
    await engine.close();
  });

  it.runIf(dtype === 'fp32')('decodes the reference prompts to transformers\' greedy ids, all in one batch', async () => {
    const engine = new Engine(model, { maxBatch: reference.length });
    const results = await Promise.all(reference.map((c) => generate(engine, c.prompt_ids, { greedy: true, maxTokens: 48 })));
    results.forEach((r, i) => expect(r.ids, `prompt ${i}`).toEqual(reference[i].greedy_ids));
    await engine.close();
  });

  it('frees the slot of an iterator that is returned early, and aborts waiting requests', async () => {
    const engine = new Engine(model, { maxBatch: 1 });
    const it = engine.generate(prompts[0], { greedy: true, maxTokens: 20 });
    await it.next();
    expect(engine.stats.running).toBe(1);
    const ac = new AbortController();
    const waiting = engine.generate(prompts[1], { greedy: true, maxTokens: 5, signal: ac.signal }).next();
    await new Promise((r) => setImmediate(r));
    expect(engine.stats.waiting).toBe(1);
    ac.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    await it.return(undefined as never);
    expect(engine.stats.running).toBe(0);
    await engine.close();
  });
});
