import {
  type DeviceRequest,
  InvalidArgumentError,
  type ModelDType,
  parseBytes,
  parseDeviceRequest,
  parseModelDType,
} from '@bminf/core';
import type { GenerateOptions } from '@bminf/models';
import { Option } from 'commander';

/** Parsers that turn bad option values into errors naming the option and the allowed values. */
export function intOption(name: string, min: number) {
  return (value: string): number => {
    // Decimal digits only: Number() would also take 1e3, 0x10 and 99999999999999999999 (rounded).
    const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} written in decimal digits (at most ${Number.MAX_SAFE_INTEGER}), but is "${value}".`);
    }
    return n;
  };
}

export function numberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, but is "${value}".`);
    return n;
  };
}

export const dtypeOption = () =>
  new Option('--dtype <dtype>', 'weights: fp32, fp16, or int8 (W8A8, float16 activations)').default('int8').argParser(parseModelDType);
export const deviceOption = () =>
  new Option('--device <device>', 'auto (CUDA when a usable GPU is present), cpu, or cuda').default('auto').argParser(parseDeviceRequest);
export const threadsOption = () =>
  new Option('--threads <n>', 'CPU threads for the CPU kernels, 1–256 (default: every hardware thread, or BMINF_CPU_THREADS)').argParser((v) => {
    const n = intOption('--threads', 1)(v);
    if (n > 256) throw new InvalidArgumentError(`--threads must be at most 256, but is "${v}".`);
    return n;
  });

export const memoryLimitOption = () =>
  new Option(
    '--memory-limit <size>',
    'GPU memory the model may use, e.g. 6GiB: blocks that do not fit stream from host memory as they run (CUDA only)',
  ).argParser((v) => parseBytes(v, '--memory-limit'));

/** The model-loading options of a command's flags: dtype, device and (when given) threads and a memory limit. */
export function loadOptions(
  o: { dtype: ModelDType; device: DeviceRequest; threads?: number; memoryLimit?: number },
  maxBatch?: number,
): { dtype: ModelDType; device: DeviceRequest; threads?: number; memoryLimit?: number; plannedFor?: { maxBatch: number } } {
  return {
    dtype: o.dtype,
    device: o.device,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.memoryLimit !== undefined ? { memoryLimit: o.memoryLimit, ...(maxBatch ? { plannedFor: { maxBatch } } : {}) } : {}),
  };
}

/** The sampling options shared by generate, fill-blank and dialogue. */
export function samplingOptions() {
  return [
    new Option('--max-tokens <n>', 'new tokens at most').default(64).argParser(intOption('--max-tokens', 1)),
    // greedy ignores what shapes the distribution: given together, one of them is a mistake.
    new Option('--greedy', 'always take the most likely token').conflicts(['temperature', 'topP', 'topK']),
    new Option('--temperature <t>', 'sampling temperature (> 0)').argParser(numberOption('--temperature')),
    new Option('--top-p <p>', 'nucleus sampling: keep the most likely tokens up to this probability (0 < p ≤ 1)').argParser(numberOption('--top-p')),
    new Option('--top-k <k>', 'keep only the k most likely tokens (0 = all)').argParser(intOption('--top-k', 0)),
    new Option('--frequency-penalty <x>', 'subtract x × (times the token appeared)').argParser(numberOption('--frequency-penalty')),
    new Option('--presence-penalty <x>', 'subtract x once a token has appeared').argParser(numberOption('--presence-penalty')),
    new Option('--seed <n>', 'seed of the random draws (same seed, same text)').argParser(intOption('--seed', 0)),
  ];
}

export interface CommonOpts {
  model: string;
  dtype: ModelDType;
  device: DeviceRequest;
  threads?: number;
  memoryLimit?: number;
  json?: boolean;
  maxTokens: number;
  greedy?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
}

export function toGenerateOptions(o: CommonOpts): GenerateOptions {
  const g: GenerateOptions = { maxTokens: o.maxTokens };
  if (o.greedy) g.greedy = true;
  if (o.temperature !== undefined) g.temperature = o.temperature;
  if (o.topP !== undefined) g.topP = o.topP;
  if (o.topK !== undefined) g.topK = o.topK;
  if (o.frequencyPenalty !== undefined) g.frequencyPenalty = o.frequencyPenalty;
  if (o.presencePenalty !== undefined) g.presencePenalty = o.presencePenalty;
  if (o.seed !== undefined) g.seed = o.seed;
  return g;
}
