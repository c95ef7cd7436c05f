import { ModelConfigError } from '@bminf/core';
import { z } from 'zod';
import { LIMITS } from '../limits.js';

/**
 * The parts of a Hugging Face T5 config.json that CPM-2 and EVA use. transformers spells the gated
 * GELU either as feed_forward_proj "gated-gelu" or as dense_act_fn "gelu_new" with is_gated_act.
 */
const T5ConfigSchema = z.object({
  model_type: z.literal('t5'),
  d_model: z.number().int().positive().max(LIMITS.width),
  d_kv: z.number().int().positive().max(LIMITS.width),
  d_ff: z.number().int().positive().max(LIMITS.width * 8),
  num_layers: z.number().int().positive().max(LIMITS.layers),
  num_decoder_layers: z.number().int().positive().max(LIMITS.layers).nullish(),
  num_heads: z.number().int().positive().max(LIMITS.heads),
  relative_attention_num_buckets: z.number().int().min(2).max(LIMITS.buckets).default(32),
  relative_attention_max_distance: z.number().int().positive().max(LIMITS.positions).default(128),
  vocab_size: z.number().int().positive().max(LIMITS.vocab),
  layer_norm_epsilon: z.number().positive().default(1e-6),
  feed_forward_proj: z.string().default('relu'),
  dense_act_fn: z.string().nullish(),
  is_gated_act: z.boolean().nullish(),
  tie_word_embeddings: z.boolean().default(true),
});

export interface Cpm2Config {
  dModel: number;
  numHeads: number;
  headDim: number;
  dFF: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  numBuckets: number;
  maxDistance: number;
  vocabSize: number;
  eps: number;
}

/** CPM-2 (11 B) as BMInf runs it. */
export const CPM2_CONFIG: Readonly<Cpm2Config> = Object.freeze({
  dModel: 4096,
  numHeads: 64,
  headDim: 64,
  dFF: 10240,
  numEncoderLayers: 24,
  numDecoderLayers: 24,
  numBuckets: 32,
  maxDistance: 128,
  vocabSize: 26240,
  eps: 1e-6,
});

/** EVA (2.8 B) as BMInf runs it. */
export const EVA_CONFIG: Readonly<Cpm2Config> = Object.freeze({
  dModel: 2048,
  numHeads: 32,
  headDim: 64,
  dFF: 5120,
  numEncoderLayers: 24,
  numDecoderLayers: 24,
  numBuckets: 32,
  maxDistance: 256,
  vocabSize: 30000,
  eps: 1e-6,
});

export function isT5Config(raw: unknown): boolean {
  return (raw as { model_type?: unknown } | null)?.model_type === 't5';
}

/** A Hugging Face T5 config.json (CPM-2 / EVA structure) → Cpm2Config, or a ModelConfigError saying why not. */
export function parseCpm2Config(raw: unknown): Cpm2Config {
  const r = T5ConfigSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelConfigError(`config.json is not a CPM-2/EVA (T5) config bminf can run: ${issues}.`, {
      hint: 'CPM-2 and EVA checkpoints use the Hugging Face T5ForConditionalGeneration config with feed_forward_proj "gated-gelu".',
    });
  }
  const c = r.data;
  const gated = c.feed_forward_proj === 'gated-gelu' || (c.is_gated_act === true && c.dense_act_fn === 'gelu_new');
  if (!gated) {
    throw new ModelConfigError(
      `config.json: CPM-2 and EVA use a gated tanh GELU feed-forward, but feed_forward_proj is "${c.feed_forward_proj}".`,
      { hint: 'Only T5 v1.1-style models (feed_forward_proj "gated-gelu") are supported.' },
    );
  }
  if (c.tie_word_embeddings) {
    throw new ModelConfigError('config.json: CPM-2 and EVA have an output embedding of their own, but tie_word_embeddings is true.', {
      hint: 'Set "tie_word_embeddings": false when the checkpoint holds lm_head.weight (transformers 5 defaults it to true for T5).',
    });
  }
  if (c.num_heads * c.d_kv !== c.d_model) {
    throw new ModelConfigError(
      `config.json: num_heads × d_kv (${c.num_heads} × ${c.d_kv}) must equal d_model (${c.d_model}) in CPM-2/EVA models.`,
    );
  }
  return {
    dModel: c.d_model,
    numHeads: c.num_heads,
    headDim: c.d_kv,
    dFF: c.d_ff,
    numEncoderLayers: c.num_layers,
    numDecoderLayers: c.num_decoder_layers ?? c.num_layers,
    numBuckets: c.relative_attention_num_buckets,
    maxDistance: c.relative_attention_max_distance,
    vocabSize: c.vocab_size,
    eps: c.layer_norm_epsilon,
  };
}

/** The config.json transformers would write for a Cpm2Config (used by the benchmark's random models). */
export function toT5ConfigJson(c: Cpm2Config): Record<string, unknown> {
  return {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    d_model: c.dModel,
    d_kv: c.headDim,
    d_ff: c.dFF,
    num_layers: c.numEncoderLayers,
    num_decoder_layers: c.numDecoderLayers,
    num_heads: c.numHeads,
    relative_attention_num_buckets: c.numBuckets,
    relative_attention_max_distance: c.maxDistance,
    vocab_size: c.vocabSize,
    layer_norm_epsilon: c.eps,
    feed_forward_proj: 'gated-gelu',
    tie_word_embeddings: false,
    is_encoder_decoder: true,
  };
}
