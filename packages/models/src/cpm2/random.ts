import type { Backend, DeviceRequest, ModelDType } from '@bminf/core';
import { InvalidArgumentError, float32ToFloat16Bits } from '@bminf/core';
import { getBackend } from '@bminf/kernels';
import { CPM2_REQUIRED_TOKENS, CPM2_SENTINELS, Cpm2Tokenizer } from '@bminf/tokenizers';
import { Weights } from '../weights.js';
import { type Cpm2Config, toT5ConfigJson } from './config.js';
import { Cpm2Model } from './model.js';
import { cpm2Plan } from './plan.js';

/**
 * A CPM-2-shaped model with random weights, built directly on the backend (no checkpoint), for
 * benchmarks at full width. Weights are drawn so that activations stay finite through the stacks
 * (linear weights of magnitude ~1/√in, unit norms, small position biases); their values mean nothing.
 * In int8 the weights are random int8 with per-row scales, as a quantized checkpoint would hold.
 */
export function randomCpm2Model(config: Cpm2Config, options: { dtype?: ModelDType; device?: DeviceRequest | Backend; seed?: number } = {}): Cpm2Model {
  const dtype = options.dtype ?? 'int8';
  const backend = typeof options.device === 'object' ? options.device : getBackend(options.device ?? 'auto');
  const specials = ['<pad>', ...CPM2_REQUIRED_TOKENS];
  const fillers = config.vocabSize - specials.length - CPM2_SENTINELS;
  if (fillers < 0) {
    throw new InvalidArgumentError(`A random CPM-2 model needs a vocabulary of at least ${specials.length + CPM2_SENTINELS} tokens, not ${config.vocabSize}.`);
  }
  const tokens = [...specials, ...Array.from({ length: fillers }, (_, i) => `w${i}`), ...Array.from({ length: CPM2_SENTINELS }, (_, i) => `<s_${i}>`)];
  const tokenizer = new Cpm2Tokenizer(tokens, { source: 'random vocabulary' });
  const rand = xorshift(options.seed ?? 1);
  const weights = new Weights();
  try {
    for (const plan of cpm2Plan(toT5ConfigJson(config))) {
      const n = plan.shape.reduce((a, b) => a * b, 1);
      const isNorm = plan.name.includes('.ln_');
      const std = plan.quantize ? 1 / Math.sqrt(plan.shape[1]) : plan.name.includes('pos_bias') ? 0.1 : 1;
      if (plan.quantize && dtype === 'int8') {
        const values = new Int8Array(n);
        for (let i = 0; i < n; i++) values[i] = (rand() % 255) - 127;
        // uniform in [-127, 127]·s has std 73·s: s = std/73 gives the weights their std
        const scales = new Uint16Array(plan.shape[0]).fill(float32ToFloat16Bits(std / 73));
        weights.setLinear(plan.name, {
          kind: 'int8',
          weight: backend.upload(values, plan.shape),
          scale: backend.upload(scales, [plan.shape[0]]),
          bias: null,
        });
        continue;
      }
      const t = backend.upload(dtype === 'fp32' ? floats32(n, std, isNorm, rand) : halves(n, std, isNorm, rand), plan.shape);
      if (plan.quantize) weights.setLinear(plan.name, { kind: 'float', weight: t, bias: null });
      else weights.setTensor(plan.name, t);
    }
    return new Cpm2Model(config, tokenizer, backend, dtype, weights);
  } catch (e) {
    weights.dispose();
    throw e;
  }
}

/** A fast 32-bit xorshift: random bits for weights, not statistics. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

function floats32(n: number, std: number, ones: boolean, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  if (ones) return out.fill(1);
  const k = (std * Math.sqrt(3)) / 2 ** 31;
  for (let i = 0; i < n; i++) out[i] = (rand() - 2 ** 31) * k;
  return out;
}

/**
 * float16 bits drawn directly (converting a billion floats would take long): a random sign and
 * mantissa with the exponent of std, so values lie in [std, 2·std) in magnitude.
 */
function halves(n: number, std: number, ones: boolean, rand: () => number): Uint16Array {
  const out = new Uint16Array(n);
  if (ones) return out.fill(0x3c00);
  const exp = Math.max(1, Math.min(30, Math.floor(Math.log2(std)) + 15)) << 10;
  for (let i = 0; i < n; i++) {
    const r = rand();
    out[i] = (r & 0x8000) | exp | ((r >>> 16) & 0x3ff);
  }
  return out;
}
