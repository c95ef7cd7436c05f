// Fuzzing config.json parsing (settings: tooling/fuzz/settings.ts): any JSON is turned into a plan or
// refused with a ModelConfigError, and an accepted plan stays within the sizes LIMITS allows.
import { InvalidArgumentError, ModelConfigError } from '@bminf/core';
import { cpm1Plan, cpm2Plan, detectArchitecture } from '@bminf/models/plans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT, fuzz } from '../../../tooling/fuzz/settings.js';

const size = fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constantFrom(0, 1e8, 2 ** 24, 2 ** 53, 1.5, -1, Number.MAX_VALUE), fc.string({ maxLength: 3 }), fc.constant(null));
const gpt2 = fc.record(
  {
    model_type: fc.constantFrom('gpt2', 't5', 'llama'),
    n_embd: size, n_head: size, n_layer: size, n_positions: size, n_inner: size, vocab_size: size,
    activation_function: fc.constantFrom('gelu_new', 'relu'), tie_word_embeddings: fc.boolean(), layer_norm_epsilon: fc.double(),
  },
  { requiredKeys: ['model_type'] },
);
const t5 = fc.record(
  {
    model_type: fc.constantFrom('t5', 'gpt2'),
    d_model: size, d_kv: size, d_ff: size, num_layers: size, num_decoder_layers: size, num_heads: size,
    relative_attention_num_buckets: size, relative_attention_max_distance: size, vocab_size: size,
    feed_forward_proj: fc.constantFrom('gated-gelu', 'relu'), tie_word_embeddings: fc.boolean(),
  },
  { requiredKeys: ['model_type'] },
);

function planOrRefuse(plan: (c: unknown) => { shape: number[] }[], config: unknown): void {
  try {
    const plans = plan(config);
    expect(plans.length).toBeLessThan(64 * 1024); // LIMITS.layers bounds the tensor count
    for (const p of plans) for (const d of p.shape) expect(Number.isSafeInteger(d) && d > 0).toBe(true);
  } catch (e) {
    if (!(e instanceof ModelConfigError)) throw e;
  }
}

describe('fuzz: config.json', () => {
  it(
    'fuzz: GPT-2 and T5 configs plan or are refused with a ModelConfigError',
    async () => {
      await fuzz(
        fc.property(gpt2, t5, fc.anything({ maxDepth: 2 }), (a, b, c) => {
          planOrRefuse(cpm1Plan, a);
          planOrRefuse(cpm2Plan, b);
          planOrRefuse(cpm1Plan, c);
          planOrRefuse(cpm2Plan, c);
          try {
            detectArchitecture(c);
          } catch (e) {
            if (!(e instanceof ModelConfigError || e instanceof InvalidArgumentError)) throw e;
          }
        }),
        4000,
      );
    },
    FUZZ_TIMEOUT,
  );
});
