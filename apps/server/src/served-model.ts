import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import type { DeviceRequest, ModelDType } from '@bminf/core';
import { Cpm1Model, type Cpm2Model, Engine, detectArchitecture, loadModel, readModelConfig } from '@bminf/models';

export type ServedArchitecture = 'cpm1' | 'cpm2' | 'eva';

/** A loaded model, the engine that batches its requests, and what the API reports about it. */
export interface ServedModel {
  /** The id in /v1/models and in every response. */
  id: string;
  architecture: ServedArchitecture;
  model: Cpm1Model | Cpm2Model;
  engine: Engine;
  /** 'cpu' or 'cuda'. */
  device: string;
  dtype: ModelDType;
  created: number;
}

/** What a server can be given: a model directory to load, or a model already loaded (benchmarks, tests). */
export type ModelSource =
  | { dir: string; dtype?: ModelDType; device?: DeviceRequest; memoryLimit?: number | string }
  | { model: Cpm1Model | Cpm2Model; id: string; architecture?: ServedArchitecture };

/** Loads the model (EVA is a CPM-2-structured model whose config says EVA) and opens its engine. */
export async function openServedModel(source: ModelSource, maxBatch: number): Promise<ServedModel> {
  let model: Cpm1Model | Cpm2Model;
  let id: string;
  let architecture: ServedArchitecture;
  if ('dir' in source) {
    const dir = resolve(source.dir);
    architecture = detectArchitecture(readModelConfig(dir)).name;
    // On the CPU the kernels leave one core to the event loop, so requests are answered while it computes.
    const threads = Math.max(1, availableParallelism() - 1);
    // A memory limit leaves room for the activations and caches of maxBatch sequences.
    const limit = source.memoryLimit !== undefined ? { memoryLimit: source.memoryLimit, plannedFor: { maxBatch } } : {};
    model = await loadModel(dir, { dtype: source.dtype ?? 'int8', device: source.device ?? 'auto', threads, ...limit });
    id = basename(dir);
  } else {
    model = source.model;
    id = source.id;
    architecture = source.architecture ?? (model instanceof Cpm1Model ? 'cpm1' : 'cpm2');
  }
  try {
    const engine = new Engine(model, { maxBatch });
    // Every step planned now, while /health still answers 503: no request waits for planning.
    await engine.prepare();
    return { id, architecture, model, engine, device: model.backend.name, dtype: model.dtype, created: Math.floor(Date.now() / 1000) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

interface PoolView {
  memoryStats?: () => { bytesInUse: number; reserved?: number };
  pool?: { stats?: { bytesInUse: number; bytesCached?: number } };
}

/** Bytes of device memory the model's backend has in use: the CUDA device pool, or the CPU host pool. */
export function deviceBytesInUse(served: ServedModel): number {
  const backend = served.model.backend as unknown as PoolView;
  if (typeof backend.memoryStats === 'function') return backend.memoryStats().bytesInUse;
  return backend.pool?.stats?.bytesInUse ?? 0;
}

/** Bytes the backend has reserved: from the driver (CUDA, taken as needed), or the host pool's buffers. */
export function deviceBytesReserved(served: ServedModel): number {
  const backend = served.model.backend as unknown as PoolView;
  if (typeof backend.memoryStats === 'function') {
    const m = backend.memoryStats();
    return m.reserved ?? m.bytesInUse;
  }
  const s = backend.pool?.stats;
  return s ? s.bytesInUse + (s.bytesCached ?? 0) : 0;
}
