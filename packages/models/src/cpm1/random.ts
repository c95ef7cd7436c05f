import type { Backend, DeviceRequest, ModelDType } from '@bminf/core';
import { cpuBackend, getBackend } from '@bminf/kernels';
import { assembleModel } from '../streaming/assemble.js';
import type { StreamingLoadOptions } from '../streaming/index.js';
import type { SentencePieceTokenizer } from '@bminf/tokenizers';
import { randomWeights } from '../cpm2/random.js';
import type { Cpm1Config } from './config.js';
import { Cpm1Model, cpm1Streaming } from './model.js';
import { cpm1Plan } from './plan.js';

/** CPM-1 at its published size (GPT-2 style, 2.6 B parameters). */
export const CPM1_CONFIG: Cpm1Config = {
  dModel: 2560,
  numHeads: 32,
  headDim: 80,
  numLayers: 32,
  dFF: 10240,
  vocabSize: 30000,
  maxPositions: 1024,
  eps: 1e-5,
  bosId: 2,
  eosId: 3,
  scaleAttention: true,
};

/** The GPT-2 config.json fields of a CPM-1 config (what cpm1Plan reads). */
function gpt2Config(c: Cpm1Config) {
  return {
    model_type: 'gpt2',
    n_embd: c.dModel,
    n_head: c.numHeads,
    n_layer: c.numLayers,
    n_inner: c.dFF,
    vocab_size: c.vocabSize,
    n_positions: c.maxPositions,
    layer_norm_epsilon: c.eps,
    bos_token_id: c.bosId,
    eos_token_id: c.eosId,
    scale_attn_weights: c.scaleAttention,
    activation_function: 'gelu_new',
  };
}

/**
 * A CPM-1-shaped model with random weights, built on the backend (drawn on the GPU there), for
 * benchmarks at full width; the tokenizer is borrowed (its vocabulary must not exceed the config's).
 */
export function randomCpm1Model(
  config: Cpm1Config,
  tokenizer: SentencePieceTokenizer,
  options: { dtype?: ModelDType; device?: DeviceRequest | Backend; seed?: number } & StreamingLoadOptions = {},
): Cpm1Model {
  const dtype = options.dtype ?? 'int8';
  const backend = typeof options.device === 'object' ? options.device : getBackend(options.device ?? 'auto');
  const plans = cpm1Plan(gpt2Config(config));
  const { streamer, onHost } = cpm1Streaming(config, plans, backend, dtype, options);
  const std = (name: string) => (name.includes('embed') ? 0.02 : 1);
  return assembleModel(
    streamer,
    () => randomWeights(plans, backend, dtype, options.seed ?? 1, std, { onHost, backend: cpuBackend() }),
    (weights) => new Cpm1Model(config, tokenizer, backend, dtype, weights, streamer),
  );
}
