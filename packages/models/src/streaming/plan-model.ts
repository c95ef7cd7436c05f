// From a load's memory limit to a layer plan: which tensors the loader puts in host memory (the streamed
// blocks') and the LayerStreamer the model builds its streamed blocks into.
import { type Backend, InvalidArgumentError, type ModelDType, createLogger, formatBytes, parseBytes } from '@bminf/core';
import type { TensorPlan } from '../architecture.js';
import { LayerStreamer } from './layer-streamer.js';
import { measureHostToDevice } from './bandwidth.js';
import { planResidency } from './residency.js';
import { unitOf, unitSizes } from './units.js';

const log = createLogger('models');

/**
 * The share of a memory limit the plan leaves unplanned: the pool's segments are not filled to the
 * last byte (chunks shared by small tensors, step arenas that grow by doubling).
 */
export const FRAGMENTATION_ALLOWANCE = 0.03;

/** What a model is loaded for, so that a memory limit leaves room for its activations and caches. */
export interface PlannedFor {
  /** Sequences decoded together (the Engine's maxBatch). Default 8. */
  maxBatch?: number;
  /** CPM-1: tokens per sequence (default: the model's context). */
  maxLength?: number;
  /** CPM-2 / EVA: encoder tokens per sequence (default 512). */
  maxEncoderLength?: number;
  /** CPM-2 / EVA: decoder tokens per sequence (default 256). */
  maxDecoderLength?: number;
}

export interface StreamingLoadOptions {
  /**
   * The most GPU memory the model may use (bytes, or a string such as "6GiB"), with its activations
   * and caches for `plannedFor`. Blocks that do not fit stay in pinned host memory and are streamed
   * through two device slots as they run. CUDA only.
   */
  memoryLimit?: number | string;
  /** The batch and lengths the memory limit leaves room for. */
  plannedFor?: PlannedFor;
}

export interface ModelStreamingPlan {
  streamer: LayerStreamer | null;
  /** Tensors the loader keeps in host memory (the streamed blocks'). */
  onHost: (name: string) => boolean;
}

/**
 * Sets the backend's memory limit and decides the blocks' residency. `passes`: the units each kind of
 * pass runs, in order; `runtimeBytes`: the activations, caches and step arenas for `plannedFor`.
 */
export function planModelStreaming(args: {
  backend: Backend;
  plans: readonly TensorPlan[];
  dtype: ModelDType;
  memoryLimit: number | string | undefined;
  runtimeBytes: number;
  passes: readonly (readonly string[])[];
  perToken: (unit: string) => boolean;
}): ModelStreamingPlan {
  const none: ModelStreamingPlan = { streamer: null, onHost: () => false };
  if (args.memoryLimit === undefined) return none;
  const limit = parseBytes(args.memoryLimit, 'memoryLimit');
  const b = args.backend as Backend & { setMemoryLimit?(bytes: number): void; memoryStats?(): { bytesInUse: number } };
  if (!b.streaming || !b.setMemoryLimit || !b.memoryStats) {
    throw new InvalidArgumentError(`memoryLimit applies to GPU memory; the ${args.backend.name} backend has none to limit.`, {
      hint: 'Leave memoryLimit out on the CPU, or load the model with device cuda.',
    });
  }
  if (args.dtype === 'fp32') throw new InvalidArgumentError('Streaming layers supports int8 and fp16 models, not fp32.', { hint: 'Load the model as int8 or fp16.' });
  const inUse = b.memoryStats().bytesInUse;
  const sizes = unitSizes(args.plans, args.dtype);
  const residency = planResidency({
    units: [...sizes.units].map(([id, bytes]) => ({ id, bytes, perToken: args.perToken(id) })),
    fixedBytes: sizes.fixed,
    runtimeBytes: args.runtimeBytes,
    limit: Math.floor((limit - inUse) * (1 - FRAGMENTATION_ALLOWANCE)),
  });
  // Set once the plan stands (its error says more than the pool's would).
  b.setMemoryLimit(limit);
  if (residency.streamed.length === 0) return none;
  const streamer = new LayerStreamer(args.backend, residency, args.passes);
  const all = [...sizes.units.keys()];
  let rate: number | null = null;
  try {
    rate = measureHostToDevice(args.backend, 64 * 2 ** 20, 2);
  } catch {
    rate = null; // the log line goes without its bound
  }
  streamer.logPlan(all, rate);
  // The limit is the backend's: what was loaded before counts against it.
  if (inUse > 0) log.info(`layer streaming: ${formatBytes(inUse)} of the ${formatBytes(limit)} limit was in use before this model was loaded.`);
  return { streamer, onHost: (name) => streamer.isStreamed(unitOf(name)) };
}
