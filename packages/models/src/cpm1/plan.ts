import type { Architecture, TensorPlan } from '../architecture.js';
import { isGpt2Config, parseCpm1Config } from './config.js';

/**
 * CPM-1's tensors from Hugging Face GPT-2 names (the demo model and CPM-1's public release). GPT-2's
 * Conv1D stores linear weights as [in, out]; bminf keeps them as [out, in], as the int8 kernels read
 * them (one scale per output row).
 */
export function cpm1Plan(rawConfig: unknown): TensorPlan[] {
  const c = parseCpm1Config(rawConfig);
  const d = c.dModel;
  const plans: TensorPlan[] = [];
  const add = (name: string, source: string, shape: number[], extra: Partial<TensorPlan> = {}) =>
    plans.push({ name, source: `transformer.${source}`, aliases: [source], shape, quantize: false, ...extra });
  const linear = (name: string, source: string, out: number, inp: number) => {
    add(`${name}.weight`, `${source}.weight`, [out, inp], { transpose: true, quantize: true });
    add(`${name}.bias`, `${source}.bias`, [out]);
  };
  // GPT-2 ties its output projection to wte; torch.save may store the tie as lm_head.weight too.
  add('embed.weight', 'wte.weight', [c.vocabSize, d], { ties: ['lm_head.weight'] });
  add('pos_embed.weight', 'wpe.weight', [c.maxPositions, d]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `layers.${i}`;
    const s = `h.${i}`;
    add(`${p}.ln_attn.weight`, `${s}.ln_1.weight`, [d]);
    add(`${p}.ln_attn.bias`, `${s}.ln_1.bias`, [d]);
    linear(`${p}.attn.qkv`, `${s}.attn.c_attn`, 3 * d, d);
    linear(`${p}.attn.out`, `${s}.attn.c_proj`, d, d);
    add(`${p}.ln_ff.weight`, `${s}.ln_2.weight`, [d]);
    add(`${p}.ln_ff.bias`, `${s}.ln_2.bias`, [d]);
    linear(`${p}.ff.in`, `${s}.mlp.c_fc`, c.dFF, d);
    linear(`${p}.ff.out`, `${s}.mlp.c_proj`, d, c.dFF);
  }
  add('ln_final.weight', 'ln_f.weight', [d]);
  add('ln_final.bias', 'ln_f.bias', [d]);
  return plans;
}

export const cpm1Architecture: Architecture = {
  name: 'cpm1',
  matches: (config) => isGpt2Config(config),
  plan: cpm1Plan,
};
