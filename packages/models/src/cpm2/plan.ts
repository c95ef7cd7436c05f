import type { Architecture, TensorPlan } from '../architecture.js';
import { isT5Config, parseCpm2Config } from './config.js';

/**
 * CPM-2's / EVA's tensors from Hugging Face T5 names. Canonical names:
 *   embed.weight, lm_head.weight                           [vocab, d]
 *   {encoder,decoder}.pos_bias.weight                      [buckets, heads] (block 0 holds the stack's table)
 *   {encoder,decoder}.layers.i.ln_attn.weight, attn.{q,k,v,out}.weight
 *   decoder.layers.i.ln_cross.weight, cross.{q,k,v,out}.weight
 *   {encoder,decoder}.layers.i.ln_ff.weight, ff.{in,gate,out}.weight (wi_0, wi_1, wo)
 *   {encoder,decoder}.ln_final.weight
 * Linear weights are nn.Linear [out, in] already; they are quantized in int8 models. The output
 * embedding stays float16, as BMInf keeps it.
 */
export function cpm2Plan(rawConfig: unknown): TensorPlan[] {
  const c = parseCpm2Config(rawConfig);
  const d = c.dModel;
  const inner = c.numHeads * c.headDim;
  const plans: TensorPlan[] = [];
  const add = (name: string, source: string, shape: number[], extra: Partial<TensorPlan> = {}) =>
    plans.push({ name, source, shape, quantize: false, ...extra });
  const linear = (name: string, source: string, out: number, inp: number) =>
    add(`${name}.weight`, `${source}.weight`, [out, inp], { quantize: true });
  const attention = (name: string, source: string) => {
    linear(`${name}.q`, `${source}.q`, inner, d);
    linear(`${name}.k`, `${source}.k`, inner, d);
    linear(`${name}.v`, `${source}.v`, inner, d);
    linear(`${name}.out`, `${source}.o`, d, inner);
  };
  const ffn = (name: string, source: string) => {
    linear(`${name}.in`, `${source}.wi_0`, c.dFF, d);
    linear(`${name}.gate`, `${source}.wi_1`, c.dFF, d);
    linear(`${name}.out`, `${source}.wo`, d, c.dFF);
  };
  // transformers saves the shared embedding once, under one of these names (the others are ties);
  // a checkpoint that stores several must hold the same table in each (see TensorPlan.ties).
  const stacks = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];
  add('embed.weight', 'shared.weight', [c.vocabSize, d], { aliases: stacks, ties: stacks });
  add('lm_head.weight', 'lm_head.weight', [c.vocabSize, d]);
  for (const stack of ['encoder', 'decoder'] as const) {
    add(`${stack}.pos_bias.weight`, `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, [c.numBuckets, c.numHeads]);
    const layers = stack === 'encoder' ? c.numEncoderLayers : c.numDecoderLayers;
    for (let i = 0; i < layers; i++) {
      const p = `${stack}.layers.${i}`;
      const s = `${stack}.block.${i}.layer`;
      add(`${p}.ln_attn.weight`, `${s}.0.layer_norm.weight`, [d]);
      attention(`${p}.attn`, `${s}.0.SelfAttention`);
      if (stack === 'decoder') {
        add(`${p}.ln_cross.weight`, `${s}.1.layer_norm.weight`, [d]);
        attention(`${p}.cross`, `${s}.1.EncDecAttention`);
      }
      const f = stack === 'encoder' ? 1 : 2;
      add(`${p}.ln_ff.weight`, `${s}.${f}.layer_norm.weight`, [d]);
      ffn(`${p}.ff`, `${s}.${f}.DenseReluDense`);
    }
    add(`${stack}.ln_final.weight`, `${stack}.final_layer_norm.weight`, [d]);
  }
  return plans;
}

/** Any T5 config with CPM-2's structure (gated GELU, untied head). */
export const cpm2Architecture: Architecture = {
  name: 'cpm2',
  matches: (config) => isT5Config(config),
  plan: cpm2Plan,
};

/**
 * EVA: the same structure and names; a T5 config with max distance 256 is taken for EVA (CPM-2 uses
 * 128). Only the default task differs (dialogue rather than fill-blank).
 */
export const evaArchitecture: Architecture = {
  name: 'eva',
  matches: (config) => isT5Config(config) && (config as { relative_attention_max_distance?: unknown }).relative_attention_max_distance === 256,
  plan: cpm2Plan,
};
