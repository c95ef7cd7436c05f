// tiny-cpm1 on the CPU: prefill and decode tokens/s, fp32 against int8, in one run.
import { join } from 'node:path';
import { Cpm1Model } from '@bminf/models';
import { repoRoot, timeIt } from '../lib.mjs';


export default {
  title: 'CPU: tiny-cpm1 prefill and decode',
  async run() {
    const dir = join(repoRoot, 'models', 'tiny-cpm1');
    const rows = [];
    const results = {};
    for (const dtype of ['fp32', 'int8']) {
      const model = await Cpm1Model.load(dir, { dtype, device: 'cpu' });
      const prompt = Array.from({ length: 128 }, (_, i) => 2000 + (i % 500));
      const prefill = timeIt(() => {
        const s = model.newState();
        model.forward(prompt, s);
        s.dispose();
      });
      // decode: one token at a time after a 128-token prompt, 64 steps per measurement
      const state = model.newState();
      model.forward(prompt, state);
      const steps = 64;
      const decode = timeIt(() => {
        for (const c of state.caches) c.truncate(128);
        for (let i = 0; i < steps; i++) model.forward([2000 + i], state);
      });
      state.dispose();
      model.dispose();
      results[dtype] = { prefill: 128 / prefill, decode: steps / decode };
      rows.push([dtype, results[dtype].prefill, results[dtype].decode]);
    }
    rows.push(['int8 / fp32', results.int8.prefill / results.fp32.prefill, results.int8.decode / results.fp32.decode]);
    return {
      columns: ['dtype', 'prefill tokens/s (128-token prompt)', 'decode tokens/s (positions 128–191)'],
      rows,
      notes: 'int8 is W8A8 with float16 activations, as in BMInf; fp32 is all float32. The model is tiny (d 256, 4 layers), so per-op overhead weighs more than in CPM-1 proper.',
    };
  },
};
