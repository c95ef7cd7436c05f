import type { Backend, DeviceRequest, ModelDType, Tensor } from '@bminf/core';
import { InvalidArgumentError, float32ToFloat16Bits } from '@bminf/core';
import { cpuBackend, getBackend } from '@bminf/kernels';
import { assembleModel } from '../streaming/assemble.js';
import type { StreamingLoadOptions } from '../streaming/index.js';
import { CPM2_REQUIRED_TOKENS, CPM2_SENTINELS, Cpm2Tokenizer } from '@bminf/tokenizers';
import type { TensorPlan } from '../plans.js';
import { Weights } from '../weights.js';
import { type Cpm2Config, toT5ConfigJson } from './config.js';
import { Cpm2Model, cpm2Streaming } from './model.js';
import { cpm2Plan } from './plan.js';

/**
 * A CPM-2-shaped model with random weights, built directly on the backend (no checkpoint), for
 * benchmarks at full width. Weights are drawn so that activations stay finite through the stacks
 * (linear weights of magnitude ~1/√in, unit norms, small position biases); their values mean nothing.
 * In int8 the weights are random int8 with per-row scales, as a quantized checkpoint would hold.
 */
export function randomCpm2Model(
  config: Cpm2Config,
  options: { dtype?: ModelDType; device?: DeviceRequest | Backend; seed?: number } & StreamingLoadOptions = {},
): Cpm2Model {
  const dtype = options.dtype ?? 'int8';
  const backend = typeof options.device === 'object' ? options.device : getBackend(options.device ?? 'auto');
  const specials = ['<pad>', ...CPM2_REQUIRED_TOKENS];
  const fillers = config.vocabSize - specials.length - CPM2_SENTINELS;
  if (fillers < 0) {
    throw new InvalidArgumentError(`A random CPM-2 model needs a vocabulary of at least ${specials.length + CPM2_SENTINELS} tokens, not ${config.vocabSize}.`);
  }
  const tokens = [...specials, ...Array.from({ length: fillers }, (_, i) => `w${i}`), ...Array.from({ length: CPM2_SENTINELS }, (_, i) => `<s_${i}>`)];
  const tokenizer = new Cpm2Tokenizer(tokens, { source: 'random vocabulary' });
  const plans = cpm2Plan(toT5ConfigJson(config));
  const { streamer, onHost } = cpm2Streaming(config, plans, backend, dtype, options);
  const std = (name: string) => (name.includes('pos_bias') ? 0.1 : 1);
  return assembleModel(
    streamer,
    () => randomWeights(plans, backend, dtype, options.seed ?? 1, std, { onHost, backend: cpuBackend() }),
    (weights) => new Cpm2Model(config, tokenizer, backend, dtype, weights, streamer),
  );
}

/**
 * Random weights for every tensor of a plan: linear weights of magnitude ~1/√in (int8 with per-row
 * scales in int8 models), norms of ones, other tensors of magnitude `std(name)`. Large tensors are
 * drawn on the GPU where the backend can (fillRandom), so a full-size model is ready in seconds.
 */
export function randomWeights(
  plans: readonly TensorPlan[],
  backend: Backend,
  dtype: ModelDType,
  seed: number,
  std: (name: string) => number,
  host?: { onHost: (name: string) => boolean; backend: Backend },
): Weights {
  const rand = xorshift(seed);
  const weights = new Weights();
  const device = 'fillRandom' in backend ? (backend as Backend & { fillRandom(t: Tensor, seed: number, magnitude?: number): void }) : null;
  // A streamed block's tensor is drawn on the GPU like the rest, then moved to host memory.
  const place = (name: string, t: Tensor): Tensor => {
    if (!host?.onHost(name)) return t;
    try {
      return host.backend.upload(backend.download(t), t.shape);
    } finally {
      t.dispose();
    }
  };
  try {
    plans.forEach((plan, index) => {
      const n = plan.shape.reduce((a, b) => a * b, 1);
      const isBias = plan.name.endsWith('.bias');
      const isNorm = !isBias && (plan.name.includes('.ln_') || plan.name.startsWith('ln_'));
      const sd = plan.quantize ? 1 / Math.sqrt(plan.shape[1]) : isBias ? 0.02 : std(plan.name);
      if (plan.quantize && dtype === 'int8') {
        let weight: Tensor;
        if (device) {
          weight = backend.empty(plan.shape, 'int8');
          device.fillRandom(weight, seed * 1000 + index);
        } else {
          const values = new Int8Array(n);
          for (let i = 0; i < n; i++) values[i] = (rand() % 255) - 127;
          weight = backend.upload(values, plan.shape);
        }
        // uniform in [-127, 127]·s has std 73·s: s = std/73 gives the weights their std
        const scales = new Uint16Array(plan.shape[0]).fill(float32ToFloat16Bits(sd / 73));
        weights.setLinear(plan.name, { kind: 'int8', weight: place(plan.name, weight), scale: place(plan.name, backend.upload(scales, [plan.shape[0]])), bias: null });
        return;
      }
      let t: Tensor;
      if (device && dtype !== 'fp32' && !isNorm && n >= 1 << 20) {
        t = backend.empty(plan.shape, 'float16');
        device.fillRandom(t, seed * 1000 + index, sd);
      } else {
        t = backend.upload(dtype === 'fp32' ? floats32(n, sd, isNorm, rand) : halves(n, sd, isNorm, rand), plan.shape);
      }
      t = place(plan.name, t);
      if (plan.quantize) weights.setLinear(plan.name, { kind: 'float', weight: t, bias: null });
      else weights.setTensor(plan.name, t);
    });
    return weights;
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
