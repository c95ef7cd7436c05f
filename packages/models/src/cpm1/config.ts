import { ModelConfigError } from '@bminf/core';
import { z } from 'zod';
import { LIMITS } from '../limits.js';

/** The parts of a Hugging Face GPT-2 config.json that CPM-1 uses (sizes bounded: see LIMITS). */
const Gpt2ConfigSchema = z.object({
  model_type: z.literal('gpt2'),
  n_embd: z.number().int().positive().max(LIMITS.width),
  n_head: z.number().int().positive().max(LIMITS.heads),
  n_layer: z.number().int().positive().max(LIMITS.layers),
  n_positions: z.number().int().positive().max(LIMITS.positions),
  n_inner: z.number().int().positive().max(LIMITS.width * 8).nullish(),
  vocab_size: z.number().int().positive().max(LIMITS.vocab),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.enum(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']).default('gelu_new'),
  bos_token_id: z.number().int().nonnegative().nullish(),
  eos_token_id: z.number().int().nonnegative().nullish(),
  pad_token_id: z.number().int().nonnegative().nullish(),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.literal(false).default(false),
  tie_word_embeddings: z.boolean().default(true),
});

export interface Cpm1Config {
  dModel: number;
  numHeads: number;
  headDim: number;
  numLayers: number;
  dFF: number;
  vocabSize: number;
  maxPositions: number;
  eps: number;
  bosId: number;
  eosId: number;
  scaleAttention: boolean;
}

export function isGpt2Config(raw: unknown): boolean {
  return (raw as { model_type?: unknown } | null)?.model_type === 'gpt2';
}

export function parseCpm1Config(raw: unknown): Cpm1Config {
  const r = Gpt2ConfigSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelConfigError(`config.json is not a CPM-1 (GPT-2) config bminf can run: ${issues}.`, {
      hint: 'CPM-1 checkpoints use the Hugging Face GPT2LMHeadModel config with a tanh GELU (gelu_new).',
    });
  }
  const c = r.data;
  if (c.n_embd % c.n_head !== 0) {
    throw new ModelConfigError(`config.json: n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}.`);
  }
  if (!c.tie_word_embeddings) {
    throw new ModelConfigError('config.json: CPM-1 ties its output projection to the token embedding, but tie_word_embeddings is false.');
  }
  return {
    dModel: c.n_embd,
    numHeads: c.n_head,
    headDim: c.n_embd / c.n_head,
    numLayers: c.n_layer,
    dFF: c.n_inner ?? 4 * c.n_embd,
    vocabSize: c.vocab_size,
    maxPositions: c.n_positions,
    eps: c.layer_norm_epsilon,
    bosId: c.bos_token_id ?? 2,
    eosId: c.eos_token_id ?? 3,
    scaleAttention: c.scale_attn_weights,
  };
}
