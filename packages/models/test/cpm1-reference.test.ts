// tiny-cpm1 on the CPU against transformers' float32 outputs (models/tiny-cpm1/reference.json).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cpm1Model, generate, perplexity } from '../src/index.js';
import { evalIds, logSoftmax, reference, referenceLoss, tinyDir, topK } from './helpers.js';

describe('tiny-cpm1 fp32 on the CPU matches transformers', () => {
  let model: Cpm1Model;
  beforeAll(async () => {
    model = await Cpm1Model.load(tinyDir, { dtype: 'fp32', device: 'cpu' });
  });
  afterAll(() => model?.dispose());

  it('tokenizes every prompt as the reference did', () => {
    for (const c of reference) expect(model.encode(c.prompt)).toEqual(c.prompt_ids);
  });

  it.each(reference.map((c, i) => [i, c] as const))('greedy 48 tokens equal greedy_ids (prompt %i)', async (_i, c) => {
    const r = await generate(model, c.prompt_ids, { greedy: true, maxTokens: 48 });
    expect(r.ids).toEqual(c.greedy_ids);
    expect(r.text).toBe(c.greedy_text);
  });

  it.each(reference.map((c, i) => [i, c] as const))('logits and top-5 log-probabilities after the prompt (prompt %i)', (_i, c) => {
    const all = model.forward(c.prompt_ids, null, { allLogits: true });
    const V = model.vocabSize;
    const n = c.prompt_ids.length;
    const first = all.subarray(0, 8);
    const last = all.subarray((n - 1) * V, (n - 1) * V + 8);
    for (let j = 0; j < 8; j++) {
      expect(Math.abs(first[j] - c.logits_first_pos_first8[j])).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(c.logits_first_pos_first8[j])));
      expect(Math.abs(last[j] - c.logits_last_pos_first8[j])).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(c.logits_last_pos_first8[j])));
    }
    const lp = logSoftmax(all.subarray((n - 1) * V, n * V));
    const top = topK(lp, 5);
    expect(top).toEqual(c.last_logits_top5_ids);
    top.forEach((id, j) => expect(Math.abs(lp[id] - c.last_logprobs_top5[j])).toBeLessThanOrEqual(1e-3));
  });

  it('perplexity on eval_tokens.json (seq 512) is within 0.001 of the reference loss', () => {
    const r = perplexity(model, evalIds, 512);
    console.log(`fp32 loss ${r.loss.toFixed(6)} (reference ${referenceLoss.toFixed(6)}), perplexity ${r.perplexity.toFixed(3)}`);
    expect(r.tokens).toBe(8 * 511);
    expect(Math.abs(r.loss - referenceLoss)).toBeLessThanOrEqual(0.001);
  });
});

describe.each([
  ['fp16', 0.005],
  ['int8', 0.03],
] as const)('tiny-cpm1 %s perplexity', (dtype, tolerance) => {
  it(`is within ${tolerance * 100}% of the float32 reference loss`, async () => {
    const model = await Cpm1Model.load(tinyDir, { dtype, device: 'cpu' });
    try {
      const r = perplexity(model, evalIds, 512);
      const rel = Math.abs(r.loss - referenceLoss) / referenceLoss;
      console.log(`${dtype} loss ${r.loss.toFixed(6)} (reference ${referenceLoss.toFixed(6)}, ${(rel * 100).toFixed(3)}% off)`);
      expect(rel).toBeLessThanOrEqual(tolerance);
    } finally {
      model.dispose();
    }
  });
});
